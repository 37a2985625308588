"""The verdicts of the oracle and of a conformance run, defined once."""

from __future__ import annotations

from enum import StrEnum


class Verdict(StrEnum):
    """What the oracle says of one trace, or a conformance run of one vector. A ``StrEnum``: each
    compares equal to, prints as and serialises to JSON as its name."""

    PASS = "PASS"  # every event is one the spec allows
    FAIL = "FAIL"  # a deviation: an event the spec does not allow there
    INCONCLUSIVE = "INCONCLUSIVE"  # the trace cannot be judged (with the reason why)
    SKIPPED = "SKIPPED"  # a conformance vector not run (with the reason why)
    ERROR = "ERROR"  # a conformance vector the stack did not finish in time


PASS, FAIL, INCONCLUSIVE, SKIPPED, ERROR = Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE, Verdict.SKIPPED, Verdict.ERROR
