"""The ``tcpmodel`` command: the only package that prints or exits.

Exit codes: 0 every property holds (or conforms), 1 a violation (or deviation), 2 bad input
(spec, trace, flags, an output that cannot be written), 3 incomplete (a bound was hit, or the run
was interrupted by Ctrl-C or SIGTERM: what was learnt so far is printed, and nothing is written
that looks complete).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

from tcpmodel.base.errors import InputError
from tcpmodel.base.interrupts import ignore_signals, raise_on_terminate, reason_of, terminate_raises
from tcpmodel.cli.output import EXIT_INCOMPLETE, EXIT_INPUT, EXIT_OK, stopped
from tcpmodel.cli.parser import build_parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; SIGTERM is handled as Ctrl-C (``base.interrupts``). Run as the program
    (``argv`` None), SIGINT and SIGTERM are ignored once the command's outcome is decided, so that
    a late signal cannot cut the exit short or change its code; called with ``argv`` (tests, other
    programs), the handlers before come back."""
    if argv is not None:
        with terminate_raises():
            return _main(argv, lambda: None)
    raise_on_terminate()
    return _main(None, ignore_signals)


def _main(argv: list[str] | None, decided: Callable[[], None]) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_INPUT
        # Imported only when run: a command's module imports the library it needs (numpy, Z3,
        # dpkt), which would slow every other command and --help (start-up time).
        command = importlib.import_module(f"tcpmodel.cli.{args.command}")
        code = int(command.run(args))
        decided()
        return code
    except InputError as exc:
        decided()
        sys.stderr.write(f"tcpmodel: error: {exc}\n")
        return EXIT_INPUT
    except KeyboardInterrupt as exc:
        decided()
        sys.stderr.write(f"tcpmodel: {stopped(reason_of(exc))}\n")
        return EXIT_INCOMPLETE
    except BrokenPipeError:
        decided()
        return EXIT_OK
