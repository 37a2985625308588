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
from pathlib import Path

from tcpmodel.base.errors import InputError
from tcpmodel.language.spec import Spec
from tcpmodel.oracle.judge import Judgement, judge
from tcpmodel.oracle.profiles import Profile
from tcpmodel.oracle.verdicts import FAIL, INCONCLUSIVE, PASS, Verdict
from tcpmodel.system.observe import incarnation_traces
from tcpmodel.system.scenario import ENDPOINTS
from tcpmodel.traces.capture import read_capture, to_trace
from tcpmodel.traces.run import is_run_file, read_run
from tcpmodel.traces.trace import Trace, read_trace

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
    """Judge every connection in ``path`` (a trace or a capture). Raises InputError for a file
    that cannot be read at all; a truncated capture comes back with ``error`` set."""
    if _looks_like_trace(Path(path)) and is_run_file(path):
        return _audit_run(path, spec, profile)
    if _looks_like_trace(Path(path)):
        trace = read_trace(path)
        verdict = judge(spec, trace, profile)
        endpoint = trace.header.endpoint or "endpoint under test"
        return FileAudit(path, [ConnectionVerdict(path, endpoint, [Side(endpoint, verdict, trace)])])
    capture = read_capture(path)
    result = FileAudit(path, error=capture.error)
    for conn in capture.connections:
        sides = []
        for side, endpoint in enumerate((conn.client, conn.server)):
            trace = to_trace(conn, side, spec_name=spec.name, profile=profile.name, source=path)
            sides.append(Side(endpoint, judge(spec, trace, profile, may_lose_in=True), trace))
        result.connections.append(ConnectionVerdict(path, f"{conn.client} -> {conn.server} #{conn.incarnation}", sides))
    return result


def _audit_run(path: str, spec: Spec, profile: Profile) -> FileAudit:
    """Each endpoint of a run, judged on what it observed (see the module)."""
    run = read_run(path)
    data = run.header.scenario.get("data", 0)
    if not isinstance(data, int) or isinstance(data, bool) or data < 0:
        raise InputError(f'the scenario\'s "data" is {data!r}: it must be a number of octets', where=run.where())
    unclocked = replace(profile, min_seconds=())
    result = FileAudit(path)
    for i, name in enumerate(ENDPOINTS):
        traces = incarnation_traces(run.steps, i, spec.name, profile.name, data=data, source=f"{path}, endpoint {name}")
        for n, trace in enumerate(traces, 1):
            connection = f"{run.header.spec} run: {name} #{n}"
            result.connections.append(ConnectionVerdict(path, connection, [Side(name, judge(spec, trace, unclocked), trace)]))
    return result


def _looks_like_trace(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            start = f.read(64).lstrip()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", where=str(path)) from None
    return start.startswith(b"{")
