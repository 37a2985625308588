"""``tcpmodel conform``: run the vectors against a real stack, judge it, write its report."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tcpmodel.base.staging import Staging
from tcpmodel.cli.output import EXIT_INCOMPLETE, EXIT_OK, EXIT_VIOLATION, stopped
from tcpmodel.conformance.outcomes import Outcome, Settings
from tcpmodel.conformance.report import conform_text, results_by_file
from tcpmodel.conformance.run import ConformanceRun, ReportPlace, conform, report_command, write_report
from tcpmodel.language.spec import load_spec
from tcpmodel.oracle.verdicts import PASS, SKIPPED


def run(args) -> int:
    spec = load_spec(args.spec)
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

    def run_vectors(out: Path) -> ConformanceRun:
        try:
            return conform(args.stack, spec, profile=args.profile, vectors=args.vectors,
                           settings=Settings(settle=args.settle, timeout=args.timeout),
                           out=out, keep_all=args.keep_all, progress=progress if args.progress else None)
        finally:
            if args.progress and interactive:
                sys.stderr.write("\r" + " " * 99 + "\r")

    out = Path(args.out) if args.out else None
    if not args.report:
        result = run_vectors(out or Path("conformance-runs"))
        return interrupted(args, result) if result.interrupted else finish(args, result, result.as_json())
    report = Path(args.report)
    results_by_file(report.parent)  # a JSON beside the report that the matrix cannot read fails now, not after the run
    with Staging(report.parent, "conformance report") as stage:  # nothing is in place until the run is complete
        place = ReportPlace.of(report, stage, out)
        result = run_vectors(place.vectors)
        if result.interrupted:
            return interrupted(args, result)  # the staging is discarded
        data = write_report(result, place, report_command(result, args.spec, args.vectors, report), spec.name)
    return finish(args, result, data)


def interrupted(args, result: ConformanceRun) -> int:
    """The vectors run so far, printed; the run is cut short (exit 3), no report is written."""
    outcomes = result.outcomes
    cut = f"{result.interrupted}: {len(outcomes)} of {result.selected} vectors run"
    if args.json:
        sys.stdout.write(json.dumps({**result.as_json(), "stop_reason": cut}, indent=2) + "\n")
    elif outcomes:
        sys.stdout.write(conform_text(result.stack, result.info, result.profile, outcomes, result.seconds, result.findings, stopped=cut))
    sys.stderr.write(f"tcpmodel: {stopped(result.interrupted)} ({len(outcomes)} of {result.selected} vectors run; no report written)\n")
    return EXIT_INCOMPLETE


def finish(args, result: ConformanceRun, data: dict) -> int:
    if args.json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        sys.stdout.write(conform_text(result.stack, result.info, result.profile, result.outcomes, result.seconds, result.findings, result.complete))
    return EXIT_OK if result.passed else EXIT_VIOLATION
