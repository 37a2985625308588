"""A conformance run as one library call: every vector (or a selection) on one stack, judged.

``conform`` is what ``tcpmodel conform`` and the public API (``tcpmodel.conform``) call: it looks
the stack up, checks that it can run here, generates the vectors from the spec, runs them with
``harness.run_suite`` and returns the outcomes with what a report needs. It prints nothing and
writes only the files of the vectors that did not PASS, into ``out``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tcpmodel.base.errors import InputError
from tcpmodel.conformance.findings import Finding
from tcpmodel.conformance.harness import Outcome, Settings, run_suite, select
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
    interrupted: str = ""  # the vector Ctrl-C cut short, if one was

    @property
    def passed(self) -> bool:
        """Every vector PASSed or was SKIPPED (with a reason)."""
        return all(o.verdict in (PASS, SKIPPED) for o in self.outcomes)

    def counts(self) -> dict[Verdict, int]:
        return {v: sum(o.verdict == v for o in self.outcomes) for v in Verdict}


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
                          interrupted=interrupted[0] if interrupted else "")
