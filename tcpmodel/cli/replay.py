"""``tcpmodel replay``: re-execute a run file on the compiled system and see whether it reproduces."""

from __future__ import annotations

import json
import sys

from tcpmodel.base.errors import InputError
from tcpmodel.checking.replay import replay
from tcpmodel.cli.output import EXIT_OK, EXIT_VIOLATION
from tcpmodel.language.spec import load_spec
from tcpmodel.rendering.summary import replay_json, replay_text
from tcpmodel.traces.run import read_run


def run(args) -> int:
    recorded = read_run(args.file)
    try:
        spec = load_spec(args.spec or recorded.header.spec_file)
    except InputError as exc:
        if args.spec:
            raise
        raise InputError(f"the run's spec cannot be loaded (give one with --spec): {exc}", where=recorded.where()) from None
    result = replay(recorded, spec)
    if args.json:
        sys.stdout.write(json.dumps(replay_json(result, recorded), sort_keys=True) + "\n")
    else:
        sys.stdout.write(replay_text(result, recorded))
    return EXIT_OK if result.reproduced else EXIT_VIOLATION
