"""What every proof obligation comes to: its status, time and model; shared by the obligations
(``obligations``) and the symbolic runs (``symbolic``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import z3


class ProofStatus(StrEnum):
    """How Z3 decided an obligation."""

    PROVED = "proved"
    REFUTED = "refuted"  # with a model: concrete values that break the claim
    UNKNOWN = "unknown"  # the time limit ran out, or Z3 gave up


PROVED, REFUTED, UNKNOWN = ProofStatus.PROVED, ProofStatus.REFUTED, ProofStatus.UNKNOWN
TIMEOUT = 10.0


@dataclass
class Result:
    """The outcome of one obligation; ``model`` holds the counterexample of a refutation."""

    name: str
    status: ProofStatus
    seconds: float
    detail: str
    model: dict[str, int | bool] = field(default_factory=dict)
    witness: bool = False  # proved by the model: it shows that an intuition fails

    @property
    def ok(self) -> bool:
        return self.status == PROVED

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "status": str(self.status), "ok": self.ok, "seconds": round(self.seconds, 3),
                "detail": self.detail, "model": self.model, "witness": self.witness}


MAX_TIMEOUT = 2**31 // 1000  # seconds: Z3 takes its time limit in milliseconds, as an unsigned int


def fresh_solver(timeout: float) -> z3.Solver:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_TIMEOUT:
        raise ValueError(f"a Z3 time limit must be a number of seconds above 0 and at most {MAX_TIMEOUT:,}, not {timeout!r}")
    solver = z3.SolverFor("QF_BV")  # every claim is quantifier-free bit-vectors and booleans
    solver.set("timeout", max(1, int(timeout * 1000)))
    return solver


# Z3 catches Ctrl-C itself while it solves and answers "unknown" for this reason; Python never sees it.
INTERRUPTED_REASON = "interrupted from keyboard"


def check_sat(solver: z3.Solver) -> z3.CheckSatResult:
    """``solver.check()``, but Ctrl-C during it raises KeyboardInterrupt (as everywhere else)
    instead of coming back as an "unknown" that would pass for Z3 giving up on the claim."""
    verdict = solver.check()
    if verdict == z3.unknown and solver.reason_unknown() == INTERRUPTED_REASON:
        raise KeyboardInterrupt
    return verdict
