"""``tcpmodel prove``: the Z3 obligations of a spec, with their report and witnesses."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from tcpmodel.base.interrupts import reason_of
from tcpmodel.cli.output import (
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_VIOLATION,
    write_atomic,
)
from tcpmodel.language.spec import load_spec
from tcpmodel.proofs.prove import prove, to_markdown
from tcpmodel.proofs.results import TIMEOUT, UNKNOWN, Result
from tcpmodel.proofs.symbolic import boundary_witnesses, witnesses_json
from tcpmodel.rendering.summary import proof_json, proof_text
from tcpmodel.system.scenario import make_scenario


def run(args) -> int:
    spec = load_spec(args.spec)
    options = make_scenario(spec, {"enable": args.enable} if args.enable else {}).options
    decided: list[Result] = []
    try:
        results = prove(spec, options, args.timeout, into=decided)
    except KeyboardInterrupt as exc:  # what was decided is printed; no report or witnesses are written
        if args.json:
            sys.stdout.write(json.dumps({**proof_json(spec, decided), "met": None, "complete": False, "stop_reason": reason_of(exc)}, sort_keys=True) + "\n")
        else:
            sys.stdout.write(proof_text(spec, decided, stopped=reason_of(exc)))
        raise
    if args.report:
        words = ["tcpmodel", "prove", args.spec, *(word for option in args.enable for word in ("--enable", option))]
        words += ["--timeout", f"{args.timeout:g}"] if args.timeout != TIMEOUT else []
        write_atomic(Path(args.report), to_markdown(results, spec, shlex.join([*words, "--report", args.report])))
    if args.witnesses:
        write_atomic(Path(args.witnesses), witnesses_json(boundary_witnesses(spec, args.timeout)))
    if args.json:
        sys.stdout.write(json.dumps(proof_json(spec, results), sort_keys=True) + "\n")
    else:
        sys.stdout.write(proof_text(spec, results, args.report))
    if any(not r.ok and r.status != UNKNOWN for r in results):
        return EXIT_VIOLATION
    return EXIT_INCOMPLETE if any(not r.ok for r in results) else EXIT_OK
