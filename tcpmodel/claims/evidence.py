"""The evidence ``tcpmodel report`` gathers for the notes' claims (``gather``) and judges
(``judging``): model checks summarised, witness runs, proofs, oracle verdicts, kernel records."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tcpmodel.claims.ledger import Ledger
from tcpmodel.claims.witness import Run
from tcpmodel.language.spec import Spec
from tcpmodel.oracle.judge import Judgement
from tcpmodel.proofs.results import Result
from tcpmodel.rendering.provenance import stamp

FOLDER = "seed-claims"  # the artefacts, next to seed-claims.md


@dataclass
class Checked:
    """A model check, summarised: what ran, what held, the counterexamples as step records."""

    key: str
    spec: str
    spec_file: str
    scenario: str
    states: int
    transitions: int
    complete: bool
    holds: dict[str, bool | None]
    counterexamples: dict[str, tuple[dict, list[dict]]]
    rule_counts: dict[str, int]

    @property
    def violated(self) -> list[str]:
        return [name for name, ok in self.holds.items() if ok is False]

    @property
    def all_hold(self) -> bool:
        return self.complete and all(ok is True for ok in self.holds.values())


@dataclass
class Shown:
    """A witness run (or None when none was found), what it shows as plain facts, its files."""

    name: str
    run: Run | None
    scenario: str
    facts: dict = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


@dataclass
class Evidence:
    quick: bool
    specs: Path
    experiments: Path
    checks: dict[str, Checked] = field(default_factory=dict)
    ledger: Ledger | None = None
    shown: dict[str, Shown] = field(default_factory=dict)
    proofs: dict[str, Result] = field(default_factory=dict)
    oracle: dict[str, tuple[str, Judgement]] = field(default_factory=dict)  # name -> (trace file, verdict)
    kernel: dict[str, dict] = field(default_factory=dict)
    artefacts: dict[str, str] = field(default_factory=dict)  # file name in FOLDER -> text
    reference: Spec | None = None

    @property
    def command(self) -> str:
        """The command that writes the report (and names itself in every artefact)."""
        return "tcpmodel report" + (" --quick" if self.quick else "")

    def add(self, name: str, text: str) -> str:
        """Keep the artefact ``name`` (naming ``command``, ``rendering.provenance``); its link."""
        self.artefacts[name] = stamp(name, text, self.command)
        return f"{FOLDER}/{name}"
