"""``tcpmodel check``: explore a spec under a scenario, check its properties, write counterexamples."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tcpmodel.base.interrupts import Interrupted, reason_of, time_limit
from tcpmodel.base.staging import Staging
from tcpmodel.checking.check import CheckResult, check
from tcpmodel.cli.arguments import scenario_overrides
from tcpmodel.cli.output import (
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_VIOLATION,
    progress_printer,
)
from tcpmodel.engine.explore import Bounds
from tcpmodel.language.spec import load_spec
from tcpmodel.rendering.ladder import render_ladder
from tcpmodel.rendering.summary import to_json, to_text
from tcpmodel.system.scenario import make_scenario


def run(args) -> int:
    # --max-seconds bounds the whole check: loading the spec, the search (which stops itself at
    # the bound and keeps what it found) and the liveness analysis (whose undecided properties
    # say so); the timer raises base.interrupts.Interrupted where the search does not stop itself.
    started = time.monotonic()
    limit = f"--max-seconds {args.max_seconds:g} reached" if args.max_seconds is not None else ""
    with time_limit(args.max_seconds, limit):
        try:
            spec = load_spec(args.spec)
            scenario = make_scenario(spec, scenario_overrides(args))
        except KeyboardInterrupt as exc:
            raise Interrupted(f"{reason_of(exc)} while loading the spec (nothing explored)") from None
        show_progress = args.progress if args.progress is not None else sys.stderr.isatty()
        progress = progress_printer(sys.stderr) if show_progress else None
        bounds = Bounds(args.max_states, args.max_seconds, args.max_memory, spent=time.monotonic() - started)
        result = check(spec, scenario, bounds, progress, reduce=args.reduce)
    if show_progress:
        sys.stderr.write("\r" + " " * 100 + "\r")
    if result.exploration.stop_reason.startswith("--max-memory"):
        ex = result.exploration
        sys.stderr.write(f"tcpmodel: stopped: {ex.stop_reason} after {ex.count:,} states (peak {ex.peak_rss / 2**20:,.0f} MB resident)\n")
    files: dict[str, list[str]] = {}
    stage = Staging(Path(args.out), "counterexamples")  # every counterexample's files or none (base.staging)
    try:
        if result.violated:
            with stage:
                files = stage_counterexamples(result, stage)
                stage.commit()
    except KeyboardInterrupt as exc:  # the result is printed all the same, with the files if they are in place
        written = files if stage.committed else {}
        print_result(args, result, written)
        raise Interrupted(reason_of(exc) + ("" if written else " (no counterexample written)")) from None
    print_result(args, result, files)
    if result.violated:
        return EXIT_VIOLATION
    return EXIT_OK if result.complete else EXIT_INCOMPLETE


def print_result(args, result: CheckResult, files: dict[str, list[str]]) -> None:
    if args.json:
        sys.stdout.write(json.dumps(to_json(result, files), sort_keys=True) + "\n")
    else:
        sys.stdout.write(to_text(result, files))


def stage_counterexamples(result: CheckResult, stage: Staging) -> dict[str, list[str]]:
    """Each violated property's run (JSON lines) and ladder (SVG), staged; the paths they will have, by property."""
    files = {}
    name = result.spec.name
    for p in result.violated:
        ce = p.counterexample
        assert ce is not None  # a violated property has its counterexample
        mark = len(ce.steps) if ce.cycle_start is None else None
        title = f"{name}: {p.prop.name} violated ({p.prop.rfc})"
        files[p.prop.name] = [
            str(stage.write(f"{name}.{p.prop.name}.jsonl", ce.to_jsonl())),
            str(stage.write(f"{name}.{p.prop.name}.svg", render_ladder(ce.header(), ce.step_records(), title=title, mark_step=mark))),
        ]
    return files
