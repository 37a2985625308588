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
from tcpmodel.conformance.harness import Settings, run_suite, select
from tcpmodel.conformance.report import (
    conform_json,
    conform_markdown,
    conform_text,
    load_results,
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
    # A report keeps its FAILs' traces, pcaps and ladders beside it: reports/conformance/linux/.
    out = Path(args.out) if args.out else Path(args.report).with_suffix("") if args.report else Path("conformance-runs")
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
    staging = out.with_name(f".{out.name}.partial") if args.report and not args.out else out
    if staging != out:
        shutil.rmtree(staging, ignore_errors=True)
    outcomes = run_suite(spec, vectors, stack, profile, Settings(settle=args.settle, timeout=args.timeout), staging,
                         keep_all=args.keep_all, progress=progress if args.progress else None, interrupted=interrupted)
    seconds = time.monotonic() - started
    if args.progress and interactive:
        sys.stderr.write("\r" + " " * 99 + "\r")
    info = {"kernel": os.uname().release, **stack.describe()}
    if interrupted:
        if staging != out:
            shutil.rmtree(staging, ignore_errors=True)
        sys.stdout.write(conform_text(args.stack, info, profile, outcomes, seconds, findings) if outcomes else "")
        sys.stderr.write(f"tcpmodel: interrupted at {interrupted[0]} ({len(outcomes)} of {len(vectors)} vectors run; no report written)\n")
        return EXIT_INCOMPLETE
    if staging != out:  # the report's own directory now holds this run's files, and only them
        shutil.rmtree(out, ignore_errors=True)
        if staging.exists():
            staging.rename(out)
        for o in outcomes:
            o.files = [str(out / Path(f).name) for f in o.files]
    if args.report:
        words = ["tcpmodel", "conform", "--stack", args.stack, "--profile", profile.name]
        if args.spec != "specs/rfc9293.toml":
            words += ["--spec", args.spec]
        if args.vectors:
            words += ["--vectors", args.vectors]
        words += ["--report", args.report]
        report = Path(args.report)
        text = conform_markdown(shlex.join(words), args.stack, info, profile, outcomes, seconds, findings, complete, report.parent)
        write_atomic(report, text, "the report")
        data = conform_json(args.stack, info, profile, outcomes, seconds, findings, complete)
        write_atomic(report.with_suffix(".json"), json.dumps(data, indent=1) + "\n", "the report's JSON")
        matrix = matrix_markdown(shlex.join(words[:3] + ["STACK", "--report", str(report.parent / "STACK.md")]),
                                 load_results(report.parent))
        write_atomic(report.parent / "README.md", matrix, "the conformance matrix")
    if args.json:
        sys.stdout.write(json.dumps(conform_json(args.stack, info, profile, outcomes, seconds, findings, complete), indent=2) + "\n")
    else:
        sys.stdout.write(conform_text(args.stack, info, profile, outcomes, seconds, findings, complete))
    return EXIT_OK if all(o.verdict in ("PASS", "SKIPPED") for o in outcomes) else EXIT_VIOLATION
