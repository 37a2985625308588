"""``tcpmodel experiment``: measure the Linux kernel's TCP in a namespace of its own."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tcpmodel.base.errors import InputError
from tcpmodel.cli.output import (
    EXIT_OK,
    write_atomic,
)
from tcpmodel.experiments import kernel
from tcpmodel.experiments import notes as notesexperiments
from tcpmodel.experiments.kernel import port_exhaustion, time_wait_duration


def run(args) -> int:
    if args.name != "port-exhaustion" and (args.ports is not None or args.window is not None):
        raise InputError(f"--ports and --window belong to port-exhaustion, not {args.name}")
    stream, interactive, last = sys.stderr, sys.stderr.isatty(), [0.0]

    def progress(text: str) -> None:
        if interactive:
            stream.write(f"\r{text:<79}")
        elif time.monotonic() - last[0] >= 10:
            last[0] = time.monotonic()
            stream.write(text + "\n")
        stream.flush()

    show = progress if args.progress else None
    command = f"tcpmodel experiment {args.name}" + (" --quick" if args.quick else "")
    if args.name in ("message-boundaries", "syn-data", "time-wait-cost"):
        command = f"tcpmodel experiment {args.name}"  # a run of seconds: --quick changes nothing
        result = notesexperiments.run(args.name, progress=show)
        to_text = notesexperiments.to_text
    elif args.name == "time-wait":
        result, to_text = time_wait_duration(quick=args.quick, progress=show), kernel.to_text
    else:
        ports = args.ports or 4
        command += f" --ports {ports}" + (f" --window {args.window:g}" if args.window else "")
        result, to_text = port_exhaustion(ports, quick=args.quick, window=args.window, progress=show), kernel.to_text
    if args.progress and interactive:
        stream.write("\r" + " " * 79 + "\r")
    result = {"command": command + (f" --record {args.record}" if args.record else ""), **result}
    if args.record:
        write_atomic(Path(args.record), json.dumps(result, indent=2) + "\n")
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n" if args.json else to_text(result))
    return EXIT_OK
