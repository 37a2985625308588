"""Findings: what a stack's FAILs mean, written once per kind of deviation, matched to vectors.

A conformance run judges each vector PASS or FAIL by the oracle alone. A finding is the analysis
of one kind of FAIL on one stack: which vectors it covers (globs on their names, and optionally a
pattern the segment seen at the failing event must match), what RFC 9293 (or the RFC it defers
to) says there, what the stack does instead, and how strong the requirement it departs from is:

- ``MUST``: the stack breaks an absolute requirement; the FAIL stands under every profile.
- ``SHOULD`` / ``MAY``: the RFC allows the behaviour, but the spec does not model the
  alternative yet, so the oracle cannot accept it; the report says so. (An allowance the spec
  does model belongs in the stack's profile instead, where the vector then PASSes.)
- ``procedure``: the stack departs from the event processing of RFC 9293 §3.10 where no
  requirement keyword (MUST-n, SHLD-n, MAY-n) governs the step; §3.10 calls itself "an example
  of one possible implementation" from which others "should differ ... only in detail, not in
  substance", so the report names the step and lets the reader weigh it.
- ``harness``: the deviation is the harness's, not the stack's: the stack's API makes the call
  differently from RFC 9293's user interface, and the report says how.

A FAIL no finding matches is "unexplained", and the report lists it as such; a finding no FAIL
matches is "stale". The conformance tests demand neither exists, so the analysis in the report
always matches the run it reports.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

KINDS = ("MUST", "SHOULD", "MAY", "procedure", "harness")


@dataclass(frozen=True)
class Finding:
    name: str  # short, unique per stack: "right-edge-accepted"
    kind: str  # one of KINDS
    rfc: str  # "RFC 9293 §3.10.7.4 (first check)"
    says: str  # what the RFC says, in a sentence
    does: str  # what this stack does, in a sentence
    vectors: tuple[str, ...]  # globs on vector names
    seen: str = ""  # a regular expression the segment seen at the failing event must match (search)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"finding {self.name}: kind {self.kind!r} is not one of {KINDS}")

    def matches(self, name: str, seen: str) -> bool:
        return (any(fnmatch.fnmatchcase(name, pattern) for pattern in self.vectors)
                and (not self.seen or re.search(self.seen, seen) is not None))

    def sentence(self) -> str:
        return f"{self.rfc} says {self.says}; this stack {self.does}"


def explain(findings, name: str, seen: str) -> Finding | None:
    """The first finding that explains the FAIL of vector ``name`` (seen: the failing segment)."""
    return next((f for f in findings if f.matches(name, seen)), None)


def stale(findings, failed: list[tuple[str, str]]) -> list[Finding]:
    """The findings that explain none of the ``failed`` (name, seen) pairs."""
    return [f for f in findings if not any(explain(findings, name, seen) is f for name, seen in failed)]
