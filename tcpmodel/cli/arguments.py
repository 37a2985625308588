"""Argument types and the scenario options, shared by the subcommands' parsers."""

from __future__ import annotations

import argparse
import math

from tcpmodel.base.errors import InputError


class Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit 2."""

    def error(self, message: str):  # argparse's, overridden
        raise InputError(f"{message} (see '{self.prog} --help')")


def add_scenario_arguments(parser: argparse.ArgumentParser) -> None:
    """The scenario options, the same for every subcommand that builds a system."""
    scenario = parser.add_argument_group("scenario (overrides the spec's [scenario] table)")
    scenario.add_argument("--roles", metavar="A,B", help="how each user opens: active, passive or either (default: active,either)")
    scenario.add_argument("--incarnations", type=int, metavar="N", help="opens per user on the same 4-tuple (default: 2)")
    scenario.add_argument("--data", type=int, metavar="N", help="octets each user sends per incarnation (default: 1)")
    scenario.add_argument("--capacity", type=int, metavar="N", help="segments per one-way channel (default: 2)")
    for name, text in (
        ("loss", "the network may lose segments"),
        ("duplication", "the network may duplicate segments"),
        ("reordering", "the network may reorder segments"),
        ("abort", "users may ABORT"),
        ("quiet-time", "an endpoint opens again only once its older segments are gone (RFC 9293 §3.4.3)"),
        ("premature-timeouts", "retransmission timers may fire while segments are in flight"),
        ("timed", "discrete time: segments die at MSL, timers count ticks"),
    ):
        scenario.add_argument(f"--{name}", action=argparse.BooleanOptionalAction, default=None, help=text)
    scenario.add_argument("--msl", type=int, metavar="TICKS", help="maximum segment lifetime in ticks (timed mode; default 2)")
    scenario.add_argument("--rto", type=int, metavar="TICKS", help="retransmission timeout in ticks (timed mode; default 1)")
    scenario.add_argument("--isn", metavar="A,B", help="initial sequence numbers of the first incarnations")
    scenario.add_argument("--isn-stride", type=int, metavar="N", help="how far the ISN clock moves per incarnation")
    scenario.add_argument("--enable", action="append", default=[], metavar="OPTION", help="switch on a named option of the spec (repeatable)")
    scenario.add_argument("--disable", action="append", default=[], metavar="OPTION", help="switch off a named option of the spec (repeatable)")


def _positive_number(convert, what: str, most: float):
    """An argparse type: a finite number above 0 and at most ``most``, read with ``convert``
    (``nan``, ``inf``, ``-1``, ``0`` and ``''`` are refused)."""

    def parse(text: str):
        try:
            value = convert(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"expected {what}, not {text!r}") from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, not {text!r}")
        if value > most:
            raise argparse.ArgumentTypeError(f"expected at most {most:,.0f}, not {text!r}")
        return value

    return parse


_positive = _positive_number(int, "a whole number", 2**62)
# a year: more would overflow time arithmetic (select, poll and Z3 take milliseconds in 32 bits or 64)
_positive_float = _positive_number(float, "a number of seconds", 365 * 24 * 3600)
_z3_seconds = _positive_number(float, "a number of seconds", 2**31 // 1000)  # Z3 takes milliseconds in an unsigned int

SIZE_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _size(text: str) -> int:
    """An argparse type: a memory size such as 2G, 500M, 1.5G (binary units) or bytes."""
    cleaned = text.strip().upper().removesuffix("IB").removesuffix("B")
    if not cleaned:
        raise argparse.ArgumentTypeError(f"expected a size such as 2G or 500M, not {text!r}")
    number, unit = (cleaned[:-1], cleaned[-1]) if cleaned[-1:] in SIZE_UNITS else (cleaned, "")
    try:
        value = float(number) * SIZE_UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size such as 2G or 500M, not {text!r}") from None
    if not math.isfinite(value) or value > 1 << 60:
        raise argparse.ArgumentTypeError(f"expected a size such as 2G or 500M, not {text!r}")
    if value < 1 << 20:
        raise argparse.ArgumentTypeError(f"expected a size of at least 1M, not {text!r}")
    return int(value)


def scenario_overrides(args) -> dict:
    out: dict = {}
    for name in ("incarnations", "data", "capacity", "msl", "rto", "isn_stride"):
        value = getattr(args, name)
        if value is not None:
            out[name] = value
    for name in ("loss", "duplication", "reordering", "abort", "quiet_time", "premature_timeouts", "timed"):
        value = getattr(args, name)
        if value is not None:
            out[name] = value
    if args.roles:
        out["roles"] = tuple(r.strip() for r in args.roles.split(","))
    if args.isn:
        try:
            out["isn"] = tuple(int(v, 0) for v in args.isn.split(","))
        except ValueError:
            raise InputError(f"--isn takes two numbers A,B, not {args.isn!r}") from None
    if args.enable:
        out["enable"] = args.enable
    if args.disable:
        out["disable"] = args.disable
    return out


def scenario_words(overrides: dict) -> list[str]:
    """The command-line options that give ``overrides`` (``scenario_overrides``'s result)."""
    words = []
    for name, value in overrides.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            words.append(flag if value else f"--no-{flag[2:]}")
        elif name in ("enable", "disable"):
            for option in value:
                words += [flag, option]
        elif isinstance(value, tuple):
            words += [flag, ",".join(str(v) for v in value)]
        else:
            words += [flag, str(value)]
    return words
