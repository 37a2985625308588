"""``tcpmodel conform``: run the vectors against a real stack, judge it, write its report."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

from tcpmodel.base.errors import InputError
from tcpmodel.cli.output import (
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_VIOLATION,
    write_atomic,
)
from tcpmodel.conformance.evidence import write_examples
from tcpmodel.conformance.harness import Settings, run_suite, select
from tcpmodel.conformance.report import (
    conform_json,
    conform_markdown,
    conform_text,
    load_results,
    matrix_command,
    matrix_markdown,
)
from tcpmodel.conformance.stacks import stack_module
from tcpmodel.language.spec import load_spec
from tcpmodel.oracle.profiles import profile_named
from tcpmodel.vectors.generation import generate


def run(args) -> int:
    stack = stack_module(args.stack)
    profile = profile_named(args.profile or getattr(stack, "PROFILE", "rfc9293"))
    spec = load_spec(args.spec)
    reason = stack.unavailable_reason()
    if reason:
        raise InputError(f"the {args.stack} stack cannot run here: {reason}")
    vectors = select(generate(spec).vectors, args.vectors)
    if not vectors:
        raise InputError(f"no vector matches --vectors {args.vectors!r}")
    findings, complete = getattr(stack, "FINDINGS", ()), not args.vectors
    # A report keeps each finding's example beside it (reports/conformance/linux/), and the files of
    # every vector that did not PASS in vectors/ there (git ignores it), unless --out says where.
    # Both are written into a staging folder first and renamed into place once the run is complete.
    folder = Path(args.report).with_suffix("") if args.report else None
    staging = folder.with_name(f".{folder.name}.partial") if folder else None
    out = Path(args.out) if args.out else staging / "vectors" if staging else Path("conformance-runs")
    if args.out and folder and Path(os.path.abspath(out)).is_relative_to(os.path.abspath(folder)):
        raise InputError(f"--out {args.out} lies in the report's folder {folder}, which the report replaces")
    interactive = sys.stderr.isatty()
    last = [0.0]

    def progress(number, total, name, outcomes):
        text = f"[{number}/{total}] {name}"
        failed = sum(o.verdict not in ("PASS", "SKIPPED") for o in outcomes)
        text += f"  ({failed} not PASS so far)" if failed else ""
        if interactive:
            sys.stderr.write(f"\r{text[:99]:<99}")
        elif time.monotonic() - last[0] >= 10 or number == total:
            last[0] = time.monotonic()
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    started, interrupted = time.monotonic(), []
    if staging:
        shutil.rmtree(staging, ignore_errors=True)
    outcomes = run_suite(spec, vectors, stack, profile, Settings(settle=args.settle, timeout=args.timeout), out,
                         keep_all=args.keep_all, progress=progress if args.progress else None, interrupted=interrupted)
    seconds = time.monotonic() - started
    if args.progress and interactive:
        sys.stderr.write("\r" + " " * 99 + "\r")
    info = {"kernel": os.uname().release, **stack.describe()}
    if interrupted:
        if staging:
            shutil.rmtree(staging, ignore_errors=True)
        sys.stdout.write(conform_text(args.stack, info, profile, outcomes, seconds, findings) if outcomes else "")
        sys.stderr.write(f"tcpmodel: interrupted at {interrupted[0]} ({len(outcomes)} of {len(vectors)} vectors run; no report written)\n")
        return EXIT_INCOMPLETE
    command, examples = None, {}
    if args.report:
        words = ["tcpmodel", "conform", "--stack", args.stack, "--profile", profile.name]
        if args.spec != "specs/rfc9293.toml":
            words += ["--spec", args.spec]
        if args.vectors:
            words += ["--vectors", args.vectors]
        command = shlex.join(words + ["--report", args.report])
        examples = write_examples(staging, outcomes, command, spec.name)
        # the report's own folder now holds this run's files, and only them
        shutil.rmtree(folder, ignore_errors=True)
        if staging.exists():
            staging.rename(folder)
        for o in outcomes:
            o.files = [_moved(path, staging, folder) for path in o.files]
        for example in examples.values():
            example["files"] = [_moved(path, staging, folder) for path in example["files"]]
    data = conform_json(args.stack, info, profile, outcomes, seconds, findings, complete, command, args.report, examples)
    if args.report:
        report = Path(args.report)
        write_atomic(report, conform_markdown(data), "the report")
        write_atomic(report.with_suffix(".json"), json.dumps(data, indent=1) + "\n", "the report's JSON")
        write_atomic(report.parent / "README.md", matrix_markdown(matrix_command(report.parent), load_results(report.parent)),
                     "the conformance matrix")
    if args.json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        sys.stdout.write(conform_text(args.stack, info, profile, outcomes, seconds, findings, complete))
    return EXIT_OK if all(o.verdict in ("PASS", "SKIPPED") for o in outcomes) else EXIT_VIOLATION


def _moved(path: str, staging: Path, folder: Path) -> str:
    """``path`` after the staging folder was renamed into the report's folder."""
    p = Path(path)
    return str(folder / p.relative_to(staging)) if p.is_relative_to(staging) else path
