"""``tcpmodel check``: explore a spec under a scenario, check its properties, write counterexamples."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tcpmodel.checking.check import check
from tcpmodel.cli.arguments import scenario_overrides
from tcpmodel.cli.output import (
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_VIOLATION,
    progress_printer,
    write_atomic,
)
from tcpmodel.engine.explore import Bounds
from tcpmodel.language.spec import load_spec
from tcpmodel.rendering.ladder import render_ladder
from tcpmodel.rendering.summary import to_json, to_text
from tcpmodel.system.scenario import make_scenario


def run(args) -> int:
    spec = load_spec(args.spec)
    scenario = make_scenario(spec, scenario_overrides(args))
    show_progress = args.progress if args.progress is not None else sys.stderr.isatty()
    progress = progress_printer(sys.stderr) if show_progress else None
    result = check(spec, scenario, Bounds(args.max_states, args.max_seconds, args.max_memory), progress, reduce=args.reduce)
    if show_progress:
        sys.stderr.write("\r" + " " * 100 + "\r")
    if result.exploration.stop_reason.startswith("--max-memory"):
        ex = result.exploration
        sys.stderr.write(f"tcpmodel: stopped: {ex.stop_reason} after {ex.count:,} states (peak {ex.peak_rss / 2**20:,.0f} MB resident)\n")
    files: dict[str, list[str]] = {}
    out = Path(args.out)
    for p in result.violated:
        ce = p.counterexample
        assert ce is not None  # a violated property has its counterexample
        jsonl, svg = out / f"{spec.name}.{p.prop.name}.jsonl", out / f"{spec.name}.{p.prop.name}.svg"
        write_atomic(jsonl, ce.to_jsonl())
        mark = len(ce.steps) if ce.cycle_start is None else None
        title = f"{spec.name}: {p.prop.name} violated ({p.prop.rfc})"
        write_atomic(svg, render_ladder(ce.header(), ce.step_records(), title=title, mark_step=mark))
        files[p.prop.name] = [str(jsonl), str(svg)]
    if args.json:
        sys.stdout.write(json.dumps(to_json(result, files), sort_keys=True) + "\n")
    else:
        sys.stdout.write(to_text(result, files))
    if result.violated:
        return EXIT_VIOLATION
    return EXIT_OK if result.exploration.complete else EXIT_INCOMPLETE
