"""What a conformance run is made of, shared by the harness, the stacks and the reports: its
settings, what a stack recorded for one vector, and each vector's outcome."""

from __future__ import annotations

from dataclasses import dataclass, field

from tcpmodel.base.errors import InputError
from tcpmodel.conformance.findings import Finding
from tcpmodel.oracle.judge import Judgement
from tcpmodel.oracle.verdicts import Verdict
from tcpmodel.traces.trace import CallEvent, SegmentEvent, Trace


class Unsupported(Exception):
    """A user call the stack's interface cannot make here; the vector is SKIPPED with the reason."""


class StackHung(Exception):
    """The stack (or the process driving it) did not finish within the per-vector timeout."""


@dataclass(frozen=True)
class Settings:
    settle: float = 0.05  # seconds collected after every stimulus, at least
    patience: float = 0.3  # longest wait for a segment the spec requires at a step
    timeout: float = 30.0  # per vector; the stack's process is killed after it

    def __post_init__(self) -> None:
        for name in ("settle", "patience", "timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_SECONDS:
                raise InputError(f"the {name} must be a number of seconds above 0 and at most {MAX_SECONDS:,}, not {value!r}")


MAX_SECONDS = 365 * 24 * 3600  # finite, and far beyond any vector


@dataclass
class Recording:
    """What a run of one vector on a stack recorded."""

    events: list[CallEvent | SegmentEvent] = field(default_factory=list)
    packets: list[tuple[float, bytes]] = field(default_factory=list)  # (wall-clock time, raw IPv4 packet), both directions
    endpoint: str = ""  # the stack's "ip:port"
    peer: str = ""  # the tester's
    isn: int | None = None  # the stack's real ISN, when it sent a SYN
    skipped: str | None = None  # why the vector could not be run to its end


@dataclass
class Outcome:
    name: str
    role: str
    target: str
    verdict: Verdict
    seconds: float
    judged: Judgement | None = None  # under the profile asked for
    others: dict[str, Verdict] = field(default_factory=dict)  # profile name -> verdict under the other profiles
    reason: str = ""
    files: list[str] = field(default_factory=list)
    isn: int | None = None
    finding: Finding | None = None  # the finding that explains a FAIL, if one does
    recorded: tuple[Trace, Recording] | None = None  # a FAIL's trace and recording, for its finding's example; not in as_dict

    def as_dict(self) -> dict[str, object]:
        out = {"name": self.name, "vector": self.name, "role": self.role, "target": self.target, "verdict": self.verdict,
               "seconds": round(self.seconds, 3), "reason": self.reason, "files": self.files,
               "other_profiles": self.others}
        if self.finding is not None:
            out["finding"] = {"name": self.finding.name, "kind": self.finding.kind, "explanation": self.finding.sentence()}
        if self.judged is not None:
            out.update({k: v for k, v in self.judged.as_dict().items() if k in ("event", "seen", "allowed", "rfc")})
        return out
