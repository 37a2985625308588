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
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tcpmodel.base.errors import InputError
from tcpmodel.conformance.evidence import write_examples
from tcpmodel.conformance.findings import Finding
from tcpmodel.conformance.harness import run_suite, select
from tcpmodel.conformance.outcomes import Outcome, Settings
from tcpmodel.conformance.report import conform_json, conform_markdown, load_results, matrix_command, matrix_markdown
from tcpmodel.conformance.stacks import stack_module
from tcpmodel.language.spec import Spec
from tcpmodel.oracle.profiles import Profile, profile_named
from tcpmodel.oracle.verdicts import PASS, SKIPPED, Verdict
from tcpmodel.traces.trace import write_atomic
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
    interrupted: str = ""  # the vector Ctrl-C cut short, if one was
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
    ``--out`` names another folder. Everything goes into ``staging`` first and is renamed into
    place only once the run is complete, so that no folder ever holds half a report."""

    report: Path
    folder: Path
    staging: Path
    vectors: Path

    @classmethod
    def of(cls, report: Path, out: Path | None = None) -> ReportPlace:
        folder = report.with_suffix("")
        staging = folder.with_name(f".{folder.name}.partial")
        if out is not None and Path(os.path.abspath(out)).is_relative_to(os.path.abspath(folder)):
            raise InputError(f"--out {out} lies in the report's folder {folder}, which the report replaces")
        return cls(report, folder, staging, out if out is not None else staging / "vectors")

    def clear(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)

    def moved(self, path: str) -> str:
        """``path`` after the staging folder was renamed into the report's folder."""
        p = Path(path)
        return str(self.folder / p.relative_to(self.staging)) if p.is_relative_to(self.staging) else path


def report_command(run: ConformanceRun, spec_file: str, vectors: str | None, report: Path) -> str:
    """The command line that writes this report (recorded in it and in every example file)."""
    words = ["tcpmodel", "conform", "--stack", run.stack, "--profile", run.profile.name]
    if spec_file != "specs/rfc9293.toml":
        words += ["--spec", spec_file]
    if vectors:
        words += ["--vectors", vectors]
    return shlex.join([*words, "--report", str(report)])


def write_report(run: ConformanceRun, place: ReportPlace, command: str, spec_name: str) -> dict[str, object]:
    """Write each finding's example, move the staging folder into place, then the report, its JSON
    and the matrix of every stack's JSON beside it (each file whole or not at all). The JSON."""
    examples = write_examples(place.staging, run.outcomes, command, spec_name)
    shutil.rmtree(place.folder, ignore_errors=True)  # the report's own folder holds this run's files, and only them
    if place.staging.exists():
        place.staging.rename(place.folder)
    for o in run.outcomes:
        o.files = [place.moved(path) for path in o.files]
    for example in examples.values():
        example["files"] = [place.moved(path) for path in example["files"]]
    data = run.as_json(command, str(place.report), examples)
    write_atomic(place.report, conform_markdown(data).encode("utf-8"), "the report")
    write_atomic(place.report.with_suffix(".json"), (json.dumps(data, indent=1) + "\n").encode("utf-8"), "the report's JSON")
    matrix = matrix_markdown(matrix_command(place.report.parent), load_results(place.report.parent))
    write_atomic(place.report.parent / "README.md", matrix.encode("utf-8"), "the conformance matrix")
    return data


def conform(stack: str, spec: Spec, *, profile: str | None = None, vectors: str | None = None, settings: Settings | None = None,
            out: Path | None = None, keep_all: bool = False, progress: Progress | None = None) -> ConformanceRun:
    """Run the vectors of ``spec`` against ``stack`` (``linux``, ``pytcp``, ``lwip``, ``slirp`` or
    ``gvisor``), judged under ``profile`` (default: the stack's own). ``vectors`` selects vectors
    by comma-separated substrings or globs of their names. The traces, pcaps and ladders of the
    vectors that do not PASS go into ``out`` (default: a folder ``conformance-runs``). Raises
    ``InputError`` when the stack cannot run here or nothing matches ``vectors``; Ctrl-C ends the
    run early with ``interrupted`` set."""
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
