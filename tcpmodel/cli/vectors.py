"""``tcpmodel vectors``: conformance vectors as JSON lines or packetdrill scripts."""

from __future__ import annotations

import json
from pathlib import Path

from tcpmodel.base.staging import Staging
from tcpmodel.cli.output import EXIT_OK
from tcpmodel.language.spec import load_spec
from tcpmodel.vectors.generation import (
    coverage_json,
    coverage_text,
    generate,
    vectors_jsonl,
)
from tcpmodel.vectors.packetdrill import not_exported, script, script_name


def run(args) -> int:
    spec = load_spec(args.spec)
    suite = generate(spec)
    out = Path(args.out)
    left_out: dict[str, int] = {}  # reason -> vectors without a packetdrill script
    with Staging(out, "vectors") as stage:  # every file or none (base.staging)
        if args.format == "jsonl":
            written = [stage.write("vectors.jsonl", vectors_jsonl(suite))]
        else:
            written = []
            for vector in suite.vectors:
                reason = not_exported(vector)
                if reason:
                    left_out[reason] = left_out.get(reason, 0) + 1
                    continue
                written.append(stage.write(script_name(vector), script(vector, spec.constants.get("RCV.WND", 0))))
        stage.commit()
    if args.json:
        print(json.dumps({**coverage_json(suite), "format": args.format, "files": len(written), "out": str(out),
                          **({"not_exported": left_out} if args.format == "packetdrill" else {})}, indent=2))
    else:
        notes = "; ".join(f"{n} vector{'s' if n != 1 else ''}: {why}" for why, n in sorted(left_out.items()))
        note = f" (not exported: {notes})" if left_out else ""
        print(coverage_text(suite) + f"written:   {len(written)} file{'s' if len(written) != 1 else ''} in {out}{note}")
    return EXIT_OK
