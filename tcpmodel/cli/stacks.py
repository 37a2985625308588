"""``tcpmodel stacks``: the stacks conform can drive, and installing what they need."""

from __future__ import annotations

import json
import sys

from tcpmodel.base.errors import InputError
from tcpmodel.cli.output import (
    EXIT_OK,
    EXIT_VIOLATION,
)
from tcpmodel.conformance.stacks import STACKS, stack_module
from tcpmodel.conformance.stacks.install import InstallFailed, install


def run(args) -> int:
    modules = [stack_module(name) for name in (args.names or STACKS)]
    if args.install:
        try:
            install(modules, say=lambda text: sys.stderr.write(f"tcpmodel: {text}\n"))
        except InstallFailed as exc:
            raise InputError(str(exc)) from None
    rows = [(m.NAME, m.unavailable_reason()) for m in modules]
    if args.json:
        sys.stdout.write(json.dumps({"stacks": [{"name": n, "available": r is None, "reason": r or ""} for n, r in rows]}, indent=2) + "\n")
    else:
        width = max(len(n) for n, _ in rows)
        sys.stdout.write("".join(f"{n:<{width}}  {'ready' if r is None else 'cannot run: ' + r}\n" for n, r in rows))
    return EXIT_OK if all(r is None for _, r in rows) else EXIT_VIOLATION
