"""A conformance run as one library call: every vector (or a selection) on one stack, judged.

``conform`` is what ``tcpmodel conform`` and the public API (``tcpmodel.conform``) call: it looks
the stack up, checks that it can run here, generates the vectors from the spec, runs them with
``harness.run_suite`` and returns the outcomes with what a report needs. It prints nothing and
writes only the files of the vectors that did not PASS, into ``out``.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tcpmodel.base.errors import InputError
from tcpmodel.base.staging import Staging
from tcpmodel.conformance.evidence import write_examples
from tcpmodel.conformance.findings import Finding
from tcpmodel.conformance.harness import run_suite, select, selector_patterns
from tcpmodel.conformance.outcomes import Outcome, Settings
from tcpmodel.conformance.report import conform_json, conform_markdown, matrix_command, matrix_markdown, results_by_file
from tcpmodel.conformance.stacks import stack_module
from tcpmodel.language.spec import Spec
from tcpmodel.oracle.profiles import Profile, profile_named
from tcpmodel.oracle.verdicts import PASS, SKIPPED, Verdict
from tcpmodel.vectors.generation import generate

Progress = Callable[[int, int, str, list[Outcome]], None]  # (number, total, vector name, outcomes so far)


@dataclass
class ConformanceRun:
    """The outcome of every vector run on one stack, judged under ``profile``."""

    stack: str
    profile: Profile
    outcomes: list[Outcome]
    seconds: float
    findings: tuple[Finding, ...]  # the stack's findings, which explain its FAILs
    complete: bool  # every vector was selected (no --vectors) and run
    info: dict[str, object] = field(default_factory=dict)  # the stack's release and settings, and the kernel's
    interrupted: str = ""  # why and at which vector the run was cut short ("interrupted at NAME"), or ""
    selected: int = 0  # vectors selected to run

    @property
    def passed(self) -> bool:
        """Every vector PASSed or was SKIPPED (with a reason)."""
        return all(o.verdict in (PASS, SKIPPED) for o in self.outcomes)

    def counts(self) -> dict[Verdict, int]:
        return {v: sum(o.verdict == v for o in self.outcomes) for v in Verdict}

    def as_json(self, command: str | None = None, report: str | None = None, examples: dict[str, dict[str, object]] | None = None) -> dict[str, object]:
        """The run as JSON (``report.conform_json``): what ``--json`` prints and a report is made of."""
        return conform_json(self.stack, self.info, self.profile, self.outcomes, self.seconds, self.findings, self.complete,
                            command, report, examples)


@dataclass(frozen=True)
class ReportPlace:
    """Where a run with a report puts its files. ``report`` is ``reports/conformance/<stack>.md``;
    its ``folder`` (``reports/conformance/<stack>/``) holds each finding's example, and ``vectors``
    the files of every vector that did not PASS (``<folder>/vectors/``, which git ignores), unless
    ``--out`` names another folder. Everything is written into ``stage`` (a ``base.staging.Staging``
    of the report's directory) and moved into place only once the run is complete: the folder
    whole, then the report, its JSON and the matrix, so that no folder ever holds half a report."""

    report: Path
    folder: Path
    stage: Staging
    vectors: Path

    @classmethod
    def of(cls, report: Path, stage: Staging, out: Path | None = None) -> ReportPlace:
        folder = report.with_suffix("")
        if out is not None and Path(os.path.abspath(out)).is_relative_to(os.path.abspath(folder)):
            raise InputError(f"--out {out} lies in the report's folder {folder}, which the report replaces")
        if Path(os.path.abspath(stage.out)) != Path(os.path.abspath(report.parent)):
            raise ValueError(f"the staging of {stage.out} is not the report's directory {report.parent}")
        return cls(report, folder, stage, out if out is not None else stage.path(f"{folder.name}/vectors"))

    def moved(self, path: str) -> str:
        """``path`` as it will be once the staging is committed."""
        return str(self.stage.final(path))


def report_command(run: ConformanceRun, spec_file: str, vectors: str | None, report: Path) -> str:
    """The command line that writes this report (recorded in it and in every example file)."""
    words = ["tcpmodel", "conform", "--stack", run.stack, "--profile", run.profile.name]
    if spec_file != "specs/rfc9293.toml":
        words += ["--spec", spec_file]
    if vectors:
        words += ["--vectors", vectors]
    return shlex.join([*words, "--report", str(report)])


def write_report(run: ConformanceRun, place: ReportPlace, command: str, spec_name: str) -> dict[str, object]:
    """Stage each finding's example, the report, its JSON and the matrix of every stack's JSON beside
    it (this run's in place of the stack's earlier one), then commit them all at once. The JSON."""
    stage, folder = place.stage, place.folder.name
    examples = write_examples(stage.mkdir(folder), run.outcomes, command, spec_name)  # replaces the folder whole
    for o in run.outcomes:
        o.files = [place.moved(path) for path in o.files]
    for example in examples.values():
        example["files"] = [place.moved(path) for path in example["files"]]
    data = run.as_json(command, str(place.report), examples)
    # the matrix of every stack's JSON there, this run's as it will read back
    results = {**results_by_file(place.report.parent), place.report.with_suffix(".json").name: json.loads(json.dumps(data))}
    matrix = matrix_markdown(matrix_command(place.report.parent), [results[name] for name in sorted(results)])
    stage.write(place.report.name, conform_markdown(data), "the report")
    stage.write(place.report.with_suffix(".json").name, json.dumps(data, indent=1) + "\n", "the report's JSON")
    stage.write("README.md", matrix, "the conformance matrix")
    stage.commit()
    return data


def conform(stack: str, spec: Spec, *, profile: str | None = None, vectors: str | None = None, settings: Settings | None = None,
            out: Path | None = None, keep_all: bool = False, progress: Progress | None = None) -> ConformanceRun:
    """Run the vectors of ``spec`` against ``stack`` (``linux``, ``pytcp``, ``lwip``, ``slirp`` or
    ``gvisor``), judged under ``profile`` (default: the stack's own). ``vectors`` selects vectors
    by comma-separated substrings or globs of their names. The traces, pcaps and ladders of the
    vectors that do not PASS go into ``out`` (default: a folder ``conformance-runs``). Raises
    ``InputError`` when the stack cannot run here or nothing matches ``vectors``; Ctrl-C or SIGTERM
    while the vectors run ends the run early with ``interrupted`` set (before, while the vectors are
    generated, it goes through)."""
    if vectors is not None:
        selector_patterns(vectors)  # a selector that names nothing is bad input, whatever the stack
    module = stack_module(stack)
    own_profile: str = getattr(module, "PROFILE", "rfc9293")
    judged_by = profile_named(profile or own_profile)
    reason = module.unavailable_reason()
    if reason:
        raise InputError(f"the {stack} stack cannot run here: {reason}")
    chosen = select(generate(spec).vectors, vectors)
    if not chosen:
        raise InputError(f"no vector matches --vectors {vectors!r}")
    started = time.monotonic()
    interrupted: list[str] = []
    outcomes = run_suite(spec, chosen, module, judged_by, settings or Settings(), out or Path("conformance-runs"),
                         keep_all=keep_all, progress=progress, interrupted=interrupted)
    return ConformanceRun(stack, judged_by, outcomes, time.monotonic() - started, tuple(getattr(module, "FINDINGS", ())),
                          complete=not vectors and not interrupted, info={"kernel": os.uname().release, **module.describe()},
                          interrupted=interrupted[0] if interrupted else "", selected=len(chosen))
