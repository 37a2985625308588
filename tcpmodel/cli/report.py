"""``tcpmodel report``: the notes' claims, checked, written to seed-claims.md."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tcpmodel.base.interrupts import Interrupted, reason_of
from tcpmodel.claims.report import build, write
from tcpmodel.cli.output import (
    EXIT_OK,
)
from tcpmodel.experiments import RECORDED


def run(args) -> int:
    started = time.monotonic()

    def progress(text: str) -> None:
        sys.stderr.write(f"report: {text}\n")
        sys.stderr.flush()

    out = Path(args.out)
    experiments = Path(args.experiments) if args.experiments else RECORDED
    built = None
    try:
        built = build(Path(args.specs), experiments, out, args.quick, progress if args.progress else None)
        written = write(out, built.text, built.artefacts)
    except KeyboardInterrupt as exc:  # no claim is judged on part of its evidence; the files are staged (base.staging)
        note = "no report written" if built is None else "while the report was written: it is in place whole or not at all"
        raise Interrupted(f"{reason_of(exc)} ({note})") from None
    if args.json:
        claims = [{"number": n, "claim": topic, "verdict": verdict} for n, topic, verdict in built.verdicts]
        sys.stdout.write(json.dumps({"claims": claims, "files": [str(p) for p in written]}, sort_keys=True) + "\n")
    else:
        width = max(len(topic) for _, topic, _ in built.verdicts)
        lines = [f"  {number:>2}. {topic:<{width}}  {verdict}" for number, topic, verdict in built.verdicts]
        verdicts = [v for *_, v in built.verdicts]
        summary = ", ".join(f"{verdicts.count(v)} {v}" for v in dict.fromkeys(sorted(verdicts)))
        sys.stdout.write("\n".join([f"claims:    {len(verdicts)} ({summary})", *lines,
                                     f"written:   {out / 'seed-claims.md'} and {len(written) - 1} files in {out / 'seed-claims'}"]) + "\n")
    if args.progress:
        progress(f"done in {time.monotonic() - started:.0f} s")
    return EXIT_OK
