"""Audit files: JSON-lines traces and pcap/pcapng captures, judged by the oracle per connection.

A trace is one connection seen from its endpoint under test. A capture holds any number of
connections (``capture`` splits them by 4-tuple and incarnation); each is judged from both of
its endpoints, and the connection's verdict is the worse of the two (FAIL, then INCONCLUSIVE,
then PASS). A capture is assumed to be taken between the endpoints, so a segment it shows may
not have reached its receiver; a trace records what its endpoint itself received.

A run of the whole system (``traces.run``: a counterexample ``tcpmodel check`` writes) holds a
connection per incarnation of each endpoint: what A, or B, observed of it (``observe``), judged
on its own. A run has no clock (its trace ticks 10 ms a step), so its timers are judged without
the profile's shortest durations; runs of the spec judged are expected to PASS.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from tcpmodel.base.errors import InputError
from tcpmodel.language.spec import Spec
from tcpmodel.oracle.judge import Judgement, judge
from tcpmodel.oracle.profiles import Profile
from tcpmodel.oracle.verdicts import FAIL, INCONCLUSIVE, PASS, Verdict
from tcpmodel.system.observe import incarnation_traces
from tcpmodel.system.scenario import ENDPOINTS
from tcpmodel.traces.capture import read_capture, to_trace
from tcpmodel.traces.run import Run, is_run_header, parse_run_lines
from tcpmodel.traces.source import Source, source
from tcpmodel.traces.trace import Trace, parse_trace_lines

RANK = {FAIL: 0, INCONCLUSIVE: 1, PASS: 2}


@dataclass
class Side:
    endpoint: str
    judgement: Judgement
    trace: Trace


@dataclass
class ConnectionVerdict:
    file: str
    name: str  # "client -> server #incarnation", or the trace's endpoint
    sides: list[Side]

    @property
    def worst(self) -> Side:
        return min(self.sides, key=lambda s: RANK[s.judgement.verdict])

    @property
    def verdict(self) -> Verdict:
        return self.worst.judgement.verdict

    def as_dict(self) -> dict[str, object]:
        worst = self.worst.judgement
        return {
            "file": self.file,
            "connection": self.name,
            "verdict": str(self.verdict),
            "profile": worst.profile,
            "event": worst.event,
            "endpoint": self.worst.endpoint,
            "seen": worst.seen,
            "allowed": worst.allowed,
            "rfc": worst.rfc,
            "reason": worst.reason,
            "sides": [{"endpoint": s.endpoint, **s.judgement.as_dict()} for s in self.sides],
        }


@dataclass
class FileAudit:
    path: str
    connections: list[ConnectionVerdict] = field(default_factory=list)
    error: str | None = None  # a capture cut short: what was readable is still judged


def audit_file(path: str, spec: Spec, profile: Profile) -> FileAudit:
    """Judge every connection in ``path`` (a trace, a run or a capture; a file, a FIFO, or "-" for
    standard input: ``traces.source``). Raises InputError for a file that cannot be read at all; a
    truncated capture comes back with ``error`` set."""
    src = source(path, "trace or capture")
    head = src.head(1 << 20)
    if not head.lstrip().startswith(b"{"):
        return _audit_capture(src, spec, profile)
    data = src.read("trace")
    if is_run_header(head):
        return _audit_run(parse_run_lines(data.split(b"\n"), src.name), spec, profile)
    trace = parse_trace_lines(data.split(b"\n"), src.name)
    verdict = judge(spec, trace, profile)
    endpoint = trace.header.endpoint or "endpoint under test"
    return FileAudit(src.name, [ConnectionVerdict(src.name, endpoint, [Side(endpoint, verdict, trace)])])


def _audit_capture(src: Source, spec: Spec, profile: Profile) -> FileAudit:
    """Each connection of a capture, judged from both of its endpoints."""
    capture = read_capture(src)
    result = FileAudit(src.name, error=capture.error)
    for conn in capture.connections:
        sides = []
        for side, endpoint in enumerate((conn.client, conn.server)):
            trace = to_trace(conn, side, spec_name=spec.name, profile=profile.name, source=src.name)
            sides.append(Side(endpoint, judge(spec, trace, profile, may_lose_in=True), trace))
        result.connections.append(ConnectionVerdict(src.name, f"{conn.client} -> {conn.server} #{conn.incarnation}", sides))
    return result


def _audit_run(run: Run, spec: Spec, profile: Profile) -> FileAudit:
    """Each endpoint of a run, judged on what it observed (see the module)."""
    data = run.header.scenario.get("data", 0)
    if not isinstance(data, int) or isinstance(data, bool) or data < 0:
        raise InputError(f'the scenario\'s "data" is {data!r}: it must be a number of octets', where=run.where())
    unclocked = replace(profile, min_seconds=())
    result = FileAudit(run.name)
    for i, name in enumerate(ENDPOINTS):
        traces = incarnation_traces(run.steps, i, spec.name, profile.name, data=data, source=f"{run.name}, endpoint {name}")
        for n, trace in enumerate(traces, 1):
            connection = f"{run.header.spec} run: {name} #{n}"
            result.connections.append(ConnectionVerdict(run.name, connection, [Side(name, judge(spec, trace, unclocked), trace)]))
    return result
