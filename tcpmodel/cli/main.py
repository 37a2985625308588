"""The ``tcpmodel`` command: the only package that prints or exits.

Exit codes: 0 every property holds (or conforms), 1 a violation (or deviation), 2 bad input
(spec, trace, flags), 3 incomplete (a bound was hit or the run was interrupted).
"""

from __future__ import annotations

import importlib
import sys

from tcpmodel.base.errors import InputError
from tcpmodel.cli.output import EXIT_INCOMPLETE, EXIT_INPUT, EXIT_OK
from tcpmodel.cli.parser import build_parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_INPUT
        # Imported only when run: a command's module imports the library it needs (numpy, Z3,
        # dpkt), which would slow every other command and --help (start-up time).
        command = importlib.import_module(f"tcpmodel.cli.{args.command}")
        return command.run(args)
    except InputError as exc:
        sys.stderr.write(f"tcpmodel: error: {exc}\n")
        return EXIT_INPUT
    except KeyboardInterrupt:
        sys.stderr.write("tcpmodel: interrupted\n")
        return EXIT_INCOMPLETE
    except BrokenPipeError:
        return EXIT_OK
