"""``tcpmodel conform``: run the vectors against a real stack, judge it, write its report."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tcpmodel.cli.output import EXIT_INCOMPLETE, EXIT_OK, EXIT_VIOLATION
from tcpmodel.conformance.outcomes import Outcome, Settings
from tcpmodel.conformance.report import conform_text
from tcpmodel.conformance.run import ReportPlace, conform, report_command, write_report
from tcpmodel.language.spec import load_spec
from tcpmodel.oracle.verdicts import PASS, SKIPPED


def run(args) -> int:
    spec = load_spec(args.spec)
    place = ReportPlace.of(Path(args.report), Path(args.out) if args.out else None) if args.report else None
    out = place.vectors if place else Path(args.out) if args.out else Path("conformance-runs")
    interactive = sys.stderr.isatty()
    last = [0.0]

    def progress(number: int, total: int, name: str, outcomes: list[Outcome]) -> None:
        text = f"[{number}/{total}] {name}"
        failed = sum(o.verdict not in (PASS, SKIPPED) for o in outcomes)
        text += f"  ({failed} not PASS so far)" if failed else ""
        if interactive:
            sys.stderr.write(f"\r{text[:99]:<99}")
        elif time.monotonic() - last[0] >= 10 or number == total:
            last[0] = time.monotonic()
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    if place:
        place.clear()
    result = conform(args.stack, spec, profile=args.profile, vectors=args.vectors, settings=Settings(settle=args.settle, timeout=args.timeout),
                     out=out, keep_all=args.keep_all, progress=progress if args.progress else None)
    if args.progress and interactive:
        sys.stderr.write("\r" + " " * 99 + "\r")
    if result.interrupted:
        if place:
            place.clear()
        outcomes = result.outcomes
        sys.stdout.write(conform_text(result.stack, result.info, result.profile, outcomes, result.seconds, result.findings) if outcomes else "")
        sys.stderr.write(f"tcpmodel: interrupted at {result.interrupted} ({len(outcomes)} of {result.selected} vectors run; no report written)\n")
        return EXIT_INCOMPLETE
    command = report_command(result, args.spec, args.vectors, Path(args.report)) if place else None
    data = write_report(result, place, command, spec.name) if place and command else result.as_json()
    if args.json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        sys.stdout.write(conform_text(result.stack, result.info, result.profile, result.outcomes, result.seconds, result.findings, result.complete))
    return EXIT_OK if result.passed else EXIT_VIOLATION
