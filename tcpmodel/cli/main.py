"""The ``tcpmodel`` command: the only module that prints or exits.

Exit codes: 0 every property holds (or conforms), 1 a violation (or deviation), 2 bad input
(spec, trace, flags), 3 incomplete (a bound was hit or the run was interrupted).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from tcpmodel.base.version import __version__
from tcpmodel.base.errors import InputError

EXIT_OK, EXIT_VIOLATION, EXIT_INPUT, EXIT_INCOMPLETE = 0, 1, 2, 3

DESCRIPTION = """\
tcpmodel: a model checker and test oracle for TCP connection management (RFC 9293).

A spec (specs/rfc9293.toml) lists TCP's states, variables and rules, each rule citing the RFC
section it implements. `tcpmodel check` compiles it into a system of two endpoints joined by a
network that may lose, duplicate and reorder segments, explores every reachable state, and checks
the properties of RFC 9293: agreement on initial sequence numbers, an intact byte stream, the state
diagram, TIME-WAIT, graceful close, no deadlock and no livelock. A violation is printed as the
shortest run that shows it and written as a JSON-lines trace and an SVG ladder diagram.
"""

CHECK_EPILOG = """\
examples:
  tcpmodel check specs/rfc9293.toml                      the default scenario (see README)
  tcpmodel check specs/rfc9293.toml --incarnations 1 --no-abort --json
  tcpmodel check specs/variants/no_time_wait.toml        a variant: prints a counterexample
  tcpmodel check specs/rfc9293.toml --enable rfc5961     with RFC 5961 challenge ACKs
  tcpmodel check specs/rfc9293.toml --reduce             fewer states, the same verdicts (see README)
  tcpmodel check specs/rfc9293.toml --max-memory 2G       stop (exit 3) once 2 GiB are in use

exit codes: 0 all properties hold, 1 a property is violated, 2 bad input, 3 incomplete
"""


class Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        raise InputError(f"{message} (see '{self.prog} --help')")


def _subcommand(commands, name: str, help_text: str, epilog: str, *description: str) -> argparse.ArgumentParser:
    return commands.add_parser(name, help=help_text, description="".join(description), epilog=epilog,
                               formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="tcpmodel", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"tcpmodel {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    check = commands.add_parser(
        "check",
        help="explore a spec exhaustively and check its properties",
        description="Explore every reachable state of SPEC under a scenario and check the properties of RFC 9293.",
        epilog=CHECK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("spec", metavar="SPEC", help="a spec file, e.g. specs/rfc9293.toml")
    check.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    check.add_argument("--out", metavar="DIR", default="counterexamples", help="where counterexamples are written (default: %(default)s)")
    check.add_argument("--max-states", type=_positive, metavar="N", help="stop after N states (exit 3)")
    check.add_argument("--max-seconds", type=_positive_float, metavar="S", help="stop after S seconds (exit 3)")
    check.add_argument("--max-memory", type=_size, metavar="SIZE", help="stop once the process has used SIZE of memory, e.g. 2G or 500M (exit 3)")
    check.add_argument("--reduce", action=argparse.BooleanOptionalAction, default=False,
                       help="explore the system with segments' write-only cause field merged (System.merge_causes): "
                            "fewer states, the same verdicts and counterexample lengths (default: off, every state)")
    check.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="progress on stderr (default: when stderr is a terminal)")
    add_scenario_arguments(check)
    export = _subcommand(
        commands, "export", "write the compiled system as a Promela (Spin) or TLA+ (TLC) model", EXPORT_EPILOG,
            "Write the system `tcpmodel check` explores for SPEC under a scenario (the same scenario options) "
            "as a model for another model checker, with the same reachable state space: Promela for Spin "
            "(SPEC-NAME.pml) or a TLA+ module and its TLC configuration (SPEC-NAME.tla, SPEC-NAME.cfg). "
            "Spin's \"states, stored\" then equals tcpmodel's states, and its transitions equal tcpmodel's "
            "transitions + 1 (Spin counts the initial state); TLC's distinct states equal tcpmodel's states.",
    )
    export.add_argument("spec", metavar="SPEC", help="a spec file, e.g. specs/rfc9293.toml")
    export.add_argument("--format", choices=("promela", "tla"), default="promela", help="promela (default) or tla")
    export.add_argument("--out", metavar="DIR", default=".", help="where the files are written (default: the current folder)")
    export.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    add_scenario_arguments(export)
    prove = _subcommand(
        commands, "prove", "prove the sequence-number properties of a spec with Z3 (32-bit)", PROVE_EPILOG,
            "Decide the spec's Z3 obligations over the full 32-bit sequence space: RFC 1982 lemmas, "
            "RFC 9293's acceptability tests, translation invariance of every rule (what justifies "
            "exploring with small ISNs), reachable guards and complete segment handling.",
    )
    prove.add_argument("spec", metavar="SPEC", nargs="?", default="specs/rfc9293.toml", help="a spec file (default: %(default)s)")
    prove.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    prove.add_argument("--report", metavar="PATH", help="also write the Markdown report there (e.g. reports/proofs.md)")
    prove.add_argument("--witnesses", metavar="PATH", help="also write Z3's boundary witnesses there as JSON (wrap point, 2**31, window edges)")
    prove.add_argument("--timeout", type=_positive_float, default=10.0, metavar="S", help="Z3 time limit per check (default: %(default)s s)")
    prove.add_argument("--enable", action="append", default=[], metavar="OPTION", help="switch on a named option of the spec (repeatable)")
    vectors = _subcommand(
        commands, "vectors", "generate conformance test vectors for one endpoint from a spec", VECTORS_EPILOG,
            "Generate conformance vectors for one endpoint under test, in both roles (active and passive "
            "opener): the shortest run to every rule the endpoint fires, and to every state followed by a "
            "crafted segment of each kind (SYN, SYN-ACK, ACK, data, FIN, RST, RST-ACK) in, out of and before "
            "the window, and with an ACK of unsent data. Each step lists the stimulus and every response the "
            "spec allows. Prints the rule coverage and the state x segment-kind matrix.",
    )
    vectors.add_argument("spec", metavar="SPEC", nargs="?", default="specs/rfc9293.toml", help="a spec file (default: %(default)s)")
    vectors.add_argument("--out", metavar="DIR", required=True, help="where the vectors are written")
    vectors.add_argument("--format", choices=("jsonl", "packetdrill"), default="jsonl", help="vectors.jsonl (default), or one packetdrill script per vector")
    vectors.add_argument("--json", action="store_true", help="print the coverage as one JSON object")
    audit = _subcommand(
        commands, "audit", "judge traces and pcap/pcapng captures against a spec (the oracle)", AUDIT_EPILOG,
            "Judge each connection in FILE (JSON-lines traces, pcap or pcapng captures) against the spec, "
            "one event at a time, under a profile. A capture is judged from both endpoints and may have "
            "seen segments that never reached their receiver. Each connection gets PASS, FAIL with the first "
            "deviation (event, what was seen, what the spec allowed there, RFC section), or INCONCLUSIVE.",
    )
    audit.add_argument("files", metavar="FILE", nargs="+", help="a .jsonl trace, or a pcap / pcapng capture")
    audit.add_argument("--spec", default="specs/rfc9293.toml", help="the spec to judge against (default: %(default)s)")
    audit.add_argument("--profile", default="rfc9293", help="rfc9293 (default), or a stack's: linux, pytcp, lwip, slirp, gvisor; see the README's profiles")
    audit.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    audit.add_argument("--out", metavar="DIR", default="audits", help="where ladder diagrams (SVG) of FAILs are written (default: %(default)s)")
    conform = _subcommand(
        commands, "conform", "run the conformance vectors against a real TCP stack and judge it (root)", CONFORM_EPILOG,
            "Drive a real TCP stack with the conformance vectors (tcpmodel vectors) in both roles and judge "
            "what it did with the oracle. linux: the kernel's own TCP, each vector in a fresh network "
            "namespace, the tester on the other side of a TUN device (needs root); pytcp, lwip, slirp, gvisor: "
            "user-space stacks, each run as a process of its own on a socketpair (`tcpmodel stacks --install` "
            "installs them). Every vector gets PASS, "
            "FAIL (the first deviation: what was seen, what the spec allowed, the RFC section), INCONCLUSIVE, "
            "SKIPPED (with why: it waits for a USER or TIME-WAIT timeout, or the stack's interface cannot make "
            "its call) or ERROR (the stack did not finish in time). A FAIL names the stack's finding that explains "
            "it (a MUST violation, a MAY/SHOULD departure the spec does not model, a §3.10 procedure departure, or "
            "the harness), or says UNEXPLAINED. The traces, pcaps and ladder diagrams of the vectors that do not "
            "PASS are written to --out.",
    )
    conform.add_argument("--stack", required=True, metavar="STACK", help="the stack to drive: linux, pytcp, lwip, slirp or gvisor (tcpmodel stacks lists them)")
    conform.add_argument("--spec", default="specs/rfc9293.toml", help="the spec (default: %(default)s)")
    conform.add_argument("--profile", help="the profile to judge by (default: the stack's own, e.g. linux for linux; rfc9293 is RFC 9293 as written); see the README's profiles")
    conform.add_argument("--vectors", metavar="SELECTOR", help="only vectors whose name contains one of these comma-separated substrings or matches a glob")
    conform.add_argument("--timeout", type=_positive_float, default=30.0, metavar="S", help="per vector; a stack that takes longer is killed (default: %(default)s s)")
    conform.add_argument("--settle", type=_positive_float, default=0.05, metavar="S", help="seconds to collect the stack's segments after each stimulus, at least (default: %(default)s)")
    conform.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    conform.add_argument("--out", metavar="DIR", help="traces, pcaps and ladders of the vectors that do not PASS (default: beside --report, e.g. reports/conformance/linux/, else conformance-runs)")
    conform.add_argument("--keep-all", action="store_true", help="also write the trace and pcap of every PASS")
    conform.add_argument("--report", metavar="PATH", help="also write the Markdown report there (e.g. reports/conformance/linux.md), its JSON beside it, and regenerate the matrix README.md of that directory from every stack's JSON there")
    conform.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="a progress line on stderr (default: on)")
    stacks = _subcommand(
        commands, "stacks", "list the real TCP stacks conform can drive; install what they need", STACKS_EPILOG,
            "List the stacks `tcpmodel conform` can drive, with whether each can run here and why not. With "
            "--install, install what they need: Debian packages (apt-get, as root), PyPI packages (pip, into this "
            "Python's environment) and the small C and Go programs that drive the user-space stacks, built into "
            "$TCPMODEL_CACHE (default ~/.cache/tcpmodel).",
    )
    stacks.add_argument("names", metavar="STACK", nargs="*", help="only these stacks (default: all)")
    stacks.add_argument("--install", action="store_true", help="install their packages and build their programs")
    stacks.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    report = _subcommand(
        commands, "report", "check every claim of the source notes and write reports/seed-claims.md", REPORT_EPILOG,
            "Check each claim of the TCP study notes the project started from (design §5) by running tcpmodel: "
            "properties of specs/rfc9293.toml, counterexamples of the variant specs beside the reference under "
            "the same scenario, witness runs and replays drawn as ladder diagrams, Z3's symbolic runs, the "
            "oracle on crafted traces, and the Linux kernel measurements recorded in reports/experiments/ (read, "
            "never re-run). Writes OUT/seed-claims.md, one row per claim with its verdict, and OUT/seed-claims/ "
            "(SVG diagrams, JSON-lines runs and traces, the proofs).",
    )
    report.add_argument("--out", metavar="DIR", default="reports", help="where seed-claims.md and seed-claims/ go (default: %(default)s)")
    report.add_argument("--specs", metavar="DIR", default="specs", help="the reference spec and variants/ (default: %(default)s)")
    report.add_argument("--experiments", metavar="DIR", default="reports/experiments", help="the recorded kernel runs (default: %(default)s)")
    report.add_argument("--quick", action="store_true", help="smaller scenarios (under a minute); the recorded report uses the full ones")
    report.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="progress lines on stderr (default: on)")
    report.add_argument("--json", action="store_true", help="print the verdicts and the files written as one JSON object")
    experiment = commands.add_parser(
        "experiment",
        help="measure the Linux kernel's TCP in a network namespace of its own (root)",
        description=EXPERIMENT_DESCRIPTION,
        epilog=EXPERIMENT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    experiment.add_argument("name", metavar="NAME", choices=EXPERIMENTS, help=", ".join(EXPERIMENTS))
    experiment.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    experiment.add_argument("--record", metavar="PATH", help="also write the JSON result there (whole or not at all)")
    experiment.add_argument("--quick", action="store_true", help="a run of seconds: TIME-WAIT watched for 1 s; stop at the first EADDRNOTAVAIL")
    experiment.add_argument("--ports", type=_positive, metavar="N", help="port-exhaustion: client ports to allow (default: 4)")
    experiment.add_argument("--window", type=_positive_float, metavar="S", help="port-exhaustion: seconds to keep connecting (default: 130, at least 60)")
    experiment.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="a progress line on stderr (default: on)")
    return parser


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


EXPERIMENT_DESCRIPTION = """\
Run an experiment on the Linux kernel's TCP over 127.0.0.1, in a network namespace created for it
and removed afterwards (needs root).

  time-wait        how long an actively closed connection stays in TIME-WAIT, measured by polling
                   /proc/net/tcp (about 60 s; the notes say 2*MSL with MSL = 30 s, RFC 9293 says
                   MSL = 2 minutes)
  port-exhaustion  with the client port range narrowed to N ports and tcp_tw_reuse = 0, connects to
                   one server fail with EADDRNOTAVAIL once every port is in TIME-WAIT; the
                   sustained rate is compared with N / TIME-WAIT duration (about 130 s)
  message-boundaries  two send() calls read by one recv(), one send() read by three: TCP keeps
                   no message boundaries (seconds)
  syn-data         TCP Fast Open without cookies: the SYN carries data and the server reads it
                   (seconds)
  time-wait-cost   TIME-WAITs left on a server (count, descriptors, kernel memory each), and a
                   client whose ports are all in TIME-WAIT towards one server connecting to another
                   (seconds)

Record a run once with --record; --quick is a run of seconds.
"""

EXPERIMENTS = ("time-wait", "port-exhaustion", "message-boundaries", "syn-data", "time-wait-cost")

EXPERIMENT_EPILOG = """examples:
  tcpmodel experiment time-wait --record reports/experiments/time-wait.json
  tcpmodel experiment port-exhaustion --ports 4 --json
  tcpmodel experiment port-exhaustion --quick

exit codes: 0 measured, 2 bad input or no network namespaces here (not root, no ip command)
"""


CONFORM_EPILOG = """examples:
  tcpmodel conform --stack linux                                 every vector, profile linux
  tcpmodel conform --stack lwip --report reports/conformance/lwip.md   also the report, its JSON, the matrix
  tcpmodel conform --stack pytcp --profile rfc9293               judged by RFC 9293 as written
  tcpmodel conform --stack linux --vectors 'active.rule.*,passive.ESTABLISHED' --json

exit codes: 0 every vector PASSes or is SKIPPED, 1 a vector FAILs, is INCONCLUSIVE or ERROR,
2 bad input, or the stack cannot run here (not root, no network namespaces, no /dev/net/tun,
not installed: see tcpmodel stacks),
3 interrupted (the vectors run so far are printed)
"""

STACKS_EPILOG = """examples:
  tcpmodel stacks                          which stacks can run here
  tcpmodel stacks --install                install everything the stacks need (root)
  tcpmodel stacks --install lwip pytcp     only these

exit codes: 0 every stack asked for can run, 1 one cannot, 2 bad input or the installation failed
"""

REPORT_EPILOG = """examples:
  tcpmodel report                              reports/seed-claims.md and reports/seed-claims/ (a few minutes)
  tcpmodel report --quick --out /tmp/claims    smaller scenarios

exit codes: 0 written (whatever the verdicts), 2 bad input (a spec, a missing recorded experiment)
"""

VECTORS_EPILOG = """examples:
  tcpmodel vectors specs/rfc9293.toml --out vectors
  tcpmodel vectors specs/rfc9293.toml --out pkt --format packetdrill

exit codes: 0 written, 2 bad input
"""

AUDIT_EPILOG = """examples:
  tcpmodel audit run.pcap                          every connection in a capture
  tcpmodel audit trace.jsonl --profile linux --json
  tcpmodel audit run.pcap --out ladders            a FAIL's ladder: ladders/run.0.client.svg

exit codes: 0 no connection FAILs, 1 one does, 2 bad input (a file that cannot be read; a
truncated capture is still judged as far as it goes, then exits 2) or a ladder diagram that
cannot be written (after the verdicts)
"""

EXPORT_EPILOG = """examples:
  tcpmodel export specs/rfc9293.toml --incarnations 1 --no-loss --no-duplication --no-reordering --out /tmp/m
      then: cd /tmp/m && spin -a rfc9293.pml && gcc -O2 -fwrapv -DNOREDUCE -DSAFETY -o pan pan.c && ./pan -m100000
      Spin: 10710 states, stored; 27658 transitions (tcpmodel check: 10,710 states, 27,657 transitions)
  tcpmodel export specs/rfc9293.toml --format tla --out /tmp/t
      then: cd /tmp/t && java -cp tla2tools.jar tlc2.TLC -workers auto rfc9293
  python benchmarks/spin_vs_tcpmodel.py      tcpmodel, Spin (and TLC) on three scenarios side by side

exit codes: 0 written, 2 bad input (a spec, a scenario option, a folder that cannot be written)
"""

PROVE_EPILOG = """examples:
  tcpmodel prove specs/rfc9293.toml --report reports/proofs.md
  tcpmodel prove specs/variants/naive_compare.toml     refuted: a 32-bit counterexample at the wrap

exit codes: 0 every obligation proved, 1 one refuted (with a model), 2 bad input, 3 Z3 could
not decide one within the time limit
"""


def _positive_number(convert, what: str):
    """An argparse type: a positive number, read with ``convert``."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, not {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, not {text!r}")
        return value

    return parse


_positive = _positive_number(int, "a whole number")
_positive_float = _positive_number(float, "a number of seconds")

SIZE_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _size(text: str) -> int:
    """An argparse type: a memory size such as 2G, 500M, 1.5G (binary units) or bytes."""
    cleaned = text.strip().upper().removesuffix("IB").removesuffix("B")
    number, unit = (cleaned[:-1], cleaned[-1]) if cleaned[-1:] in SIZE_UNITS else (cleaned, "")
    try:
        value = float(number) * SIZE_UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size such as 2G or 500M, not {text!r}") from None
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


def write_atomic(path: Path, text: str, what: str = "file") -> None:
    """Write a text file whole or not at all (``trace.write_atomic``); a failure is an InputError."""
    from tcpmodel.traces.trace import write_atomic as write_bytes

    write_bytes(Path(path), text.encode("utf-8"), what)


def progress_printer(stream):
    def report(exploration, frontier):
        rate = exploration.count / exploration.seconds if exploration.seconds else 0
        stream.write(
            f"\r  {exploration.count:>12,} states {exploration.transitions:>14,} transitions "
            f"frontier {frontier:>10,}  {rate:>9,.0f} states/s  {exploration.seconds:6.0f} s"
        )
        stream.flush()

    return report


def run_check(args) -> int:
    from tcpmodel.checking.check import check
    from tcpmodel.engine.explore import Bounds
    from tcpmodel.rendering.ladder import render_ladder
    from tcpmodel.system.scenario import make_scenario
    from tcpmodel.language.spec import load_spec
    from tcpmodel.rendering.summary import to_json, to_text

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


def run_export(args) -> int:
    from tcpmodel.export.common import write_export
    from tcpmodel.system.scenario import make_scenario
    from tcpmodel.language.spec import load_spec

    spec = load_spec(args.spec)
    overrides = scenario_overrides(args)
    scenario = make_scenario(spec, overrides)
    command = shlex.join(["tcpmodel", "export", args.spec, "--format", args.format, *scenario_words(overrides)])
    files = write_export(spec, scenario, args.format, command)
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the folder: {exc.strerror or exc}", where=str(out)) from None
    written = []
    for name, text in files.items():
        written.append(out / name)
        write_atomic(written[-1], text, f"the {args.format} model")
    if args.json:
        sys.stdout.write(json.dumps({"spec": spec.name, "format": args.format, "scenario": scenario.describe(),
                                     "files": [str(p) for p in written]}, sort_keys=True) + "\n")
    else:
        sys.stdout.write("".join(f"written:  {p}\n" for p in written))
    return EXIT_OK


def run_prove(args) -> int:
    from tcpmodel.proofs.obligations import UNKNOWN, prove, to_markdown
    from tcpmodel.system.scenario import make_scenario
    from tcpmodel.language.spec import load_spec
    from tcpmodel.rendering.summary import proof_json, proof_text

    spec = load_spec(args.spec)
    options = make_scenario(spec, {"enable": args.enable} if args.enable else {}).options
    results = prove(spec, options, args.timeout)
    if args.report:
        write_atomic(Path(args.report), to_markdown(results, spec))
    if args.witnesses:
        from tcpmodel.proofs.symbolic import boundary_witnesses, witnesses_json

        write_atomic(Path(args.witnesses), witnesses_json(boundary_witnesses(spec, args.timeout)))
    if args.json:
        sys.stdout.write(json.dumps(proof_json(spec, results), sort_keys=True) + "\n")
    else:
        sys.stdout.write(proof_text(spec, results, args.report))
    if any(not r.ok and r.status != UNKNOWN for r in results):
        return EXIT_VIOLATION
    return EXIT_INCOMPLETE if any(not r.ok for r in results) else EXIT_OK


def run_vectors(args) -> int:
    from tcpmodel.language.spec import load_spec
    from tcpmodel.vectors.generation import coverage_json, coverage_text, generate, vectors_jsonl

    spec = load_spec(args.spec)
    suite = generate(spec)
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the folder: {exc.strerror or exc}", where=str(out)) from None
    left_out: dict[str, int] = {}  # reason -> vectors without a packetdrill script
    if args.format == "jsonl":
        written = [out / "vectors.jsonl"]
        write_atomic(written[0], vectors_jsonl(suite))
    else:
        from tcpmodel.vectors.packetdrill import not_exported, script

        written = []
        for vector in suite.vectors:
            reason = not_exported(vector)
            if reason:
                left_out[reason] = left_out.get(reason, 0) + 1
                continue
            written.append(out / f"{vector.name.replace(' ', '_')}.pkt")
            write_atomic(written[-1], script(vector, spec.constants.get("RCV.WND", 0)))
    if args.json:
        print(json.dumps({**coverage_json(suite), "format": args.format, "files": len(written), "out": str(out),
                          **({"not_exported": left_out} if args.format == "packetdrill" else {})}, indent=2))
    else:
        notes = "; ".join(f"{n} vector{'s' if n != 1 else ''}: {why}" for why, n in sorted(left_out.items()))
        note = f" (not exported: {notes})" if left_out else ""
        print(coverage_text(suite) + f"written:   {len(written)} file{'s' if len(written) != 1 else ''} in {out}{note}")
    return EXIT_OK


def run_audit(args) -> int:
    from tcpmodel.oracle.audit import audit_file
    from tcpmodel.oracle.judge import profile_named
    from tcpmodel.language.spec import load_spec
    from tcpmodel.rendering.summary import audit_json, audit_text

    spec = load_spec(args.spec)
    profile = profile_named(args.profile)
    audits, errors = [], []
    for path in args.files:
        try:
            audits.append(audit_file(path, spec, profile))
        except InputError as exc:
            errors.append(str(exc))
    errors += [a.error for a in audits if a.error]
    files = write_audit_ladders(audits, Path(args.out), spec.name, errors)
    if args.json:
        print(json.dumps(audit_json(profile, audits, errors, files), indent=2))
    elif any(a.connections for a in audits) or not errors:
        print(audit_text(profile, audits, files), end="")
    for error in errors:
        sys.stderr.write(f"tcpmodel: error: {error}\n")
    if errors:
        return EXIT_INPUT
    return EXIT_VIOLATION if any(c.verdict == "FAIL" for a in audits for c in a.connections) else EXIT_OK


def write_audit_ladders(audits, out: Path, spec_name: str, errors: list[str]) -> dict[tuple[int, int, int], str]:
    """Write the ladder diagram of every FAILing side; the paths by (file, connection, side) index.
    A diagram that cannot be written is one more error."""
    from tcpmodel.rendering.auditladder import (
        file_stems,
        ladder_file,
        ladder_subtitle,
        render_side,
    )

    files = {}
    for i, (audit, stem) in enumerate(zip(audits, file_stems([a.path for a in audits]))):
        for c, connection in enumerate(audit.connections):
            for s, side in enumerate(connection.sides):
                if side.verdict.verdict != "FAIL":
                    continue
                path = ladder_file(out, stem, connection, c, s)
                try:
                    write_atomic(path, render_side(side, ladder_subtitle(connection, c, spec_name)), "ladder diagram")
                except InputError as exc:
                    errors.append(str(exc))
                    continue
                files[i, c, s] = str(path)
    return files


def run_conform(args) -> int:
    import os
    import shlex
    import shutil
    import time

    from tcpmodel.conformance.report import conform_json, conform_markdown, conform_text, load_results, matrix_markdown
    from tcpmodel.conformance.harness import Settings, run_suite, select
    from tcpmodel.oracle.judge import profile_named
    from tcpmodel.language.spec import load_spec
    from tcpmodel.conformance.stacks import stack_module
    from tcpmodel.vectors.generation import generate

    stack = stack_module(args.stack)
    profile = profile_named(args.profile or getattr(stack, "PROFILE", "rfc9293"))
    spec = load_spec(args.spec)
    reason = stack.unavailable_reason()
    if reason:
        raise InputError(f"the {args.stack} stack cannot run here: {reason}")
    vectors = select(generate(spec).vectors, args.vectors)
    if not vectors:
        raise InputError(f"no vector matches --vectors {args.vectors!r}")
    findings, complete = getattr(stack, "FINDINGS", ()), not args.vectors
    # A report keeps its FAILs' traces, pcaps and ladders beside it: reports/conformance/linux/.
    out = Path(args.out) if args.out else Path(args.report).with_suffix("") if args.report else Path("conformance-runs")
    interactive = sys.stderr.isatty()
    last = [0.0]

    def progress(number, total, name, outcomes):
        text = f"[{number}/{total}] {name}"
        failed = sum(o.verdict not in ("PASS", "SKIPPED") for o in outcomes)
        text += f"  ({failed} not PASS so far)" if failed else ""
        if interactive:
            sys.stderr.write(f"\r{text[:99]:<99}")
        elif time.monotonic() - last[0] >= 10 or number == total:
            last[0] = time.monotonic()
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    started, interrupted = time.monotonic(), []
    staging = out.with_name(f".{out.name}.partial") if args.report and not args.out else out
    if staging != out:
        shutil.rmtree(staging, ignore_errors=True)
    outcomes = run_suite(spec, vectors, stack, profile, Settings(settle=args.settle, timeout=args.timeout), staging,
                         keep_all=args.keep_all, progress=progress if args.progress else None, interrupted=interrupted)
    seconds = time.monotonic() - started
    if args.progress and interactive:
        sys.stderr.write("\r" + " " * 99 + "\r")
    info = {"kernel": os.uname().release, **stack.describe()}
    if interrupted:
        if staging != out:
            shutil.rmtree(staging, ignore_errors=True)
        sys.stdout.write(conform_text(args.stack, info, profile, outcomes, seconds, findings) if outcomes else "")
        sys.stderr.write(f"tcpmodel: interrupted at {interrupted[0]} ({len(outcomes)} of {len(vectors)} vectors run; no report written)\n")
        return EXIT_INCOMPLETE
    if staging != out:  # the report's own directory now holds this run's files, and only them
        shutil.rmtree(out, ignore_errors=True)
        if staging.exists():
            staging.rename(out)
        for o in outcomes:
            o.files = [str(out / Path(f).name) for f in o.files]
    if args.report:
        words = ["tcpmodel", "conform", "--stack", args.stack, "--profile", profile.name]
        if args.spec != "specs/rfc9293.toml":
            words += ["--spec", args.spec]
        if args.vectors:
            words += ["--vectors", args.vectors]
        words += ["--report", args.report]
        report = Path(args.report)
        text = conform_markdown(shlex.join(words), args.stack, info, profile, outcomes, seconds, findings, complete, report.parent)
        write_atomic(report, text, "the report")
        data = conform_json(args.stack, info, profile, outcomes, seconds, findings, complete)
        write_atomic(report.with_suffix(".json"), json.dumps(data, indent=1) + "\n", "the report's JSON")
        matrix = matrix_markdown(shlex.join(words[:3] + ["STACK", "--report", str(report.parent / "STACK.md")]),
                                 load_results(report.parent))
        write_atomic(report.parent / "README.md", matrix, "the conformance matrix")
    if args.json:
        sys.stdout.write(json.dumps(conform_json(args.stack, info, profile, outcomes, seconds, findings, complete), indent=2) + "\n")
    else:
        sys.stdout.write(conform_text(args.stack, info, profile, outcomes, seconds, findings, complete))
    return EXIT_OK if all(o.verdict in ("PASS", "SKIPPED") for o in outcomes) else EXIT_VIOLATION


def run_stacks(args) -> int:
    from tcpmodel.conformance.stacks import STACKS, stack_module
    from tcpmodel.conformance.stacks.install import InstallFailed, install

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


def run_experiment(args) -> int:
    import time

    from tcpmodel.experiments.kernel import port_exhaustion, time_wait_duration, to_text

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
        from tcpmodel.experiments import notes as notesexperiments

        command = f"tcpmodel experiment {args.name}"  # a run of seconds: --quick changes nothing
        result = notesexperiments.run(args.name, progress=show)
        to_text = notesexperiments.to_text
    elif args.name == "time-wait":
        result = time_wait_duration(quick=args.quick, progress=show)
    else:
        ports = args.ports or 4
        command += f" --ports {ports}" + (f" --window {args.window:g}" if args.window else "")
        result = port_exhaustion(ports, quick=args.quick, window=args.window, progress=show)
    if args.progress and interactive:
        stream.write("\r" + " " * 79 + "\r")
    result = {"command": command + (f" --record {args.record}" if args.record else ""), **result}
    if args.record:
        write_atomic(Path(args.record), json.dumps(result, indent=2) + "\n")
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n" if args.json else to_text(result))
    return EXIT_OK


def run_report(args) -> int:
    import time

    from tcpmodel.claims.evidence import build, write

    started = time.monotonic()

    def progress(text: str) -> None:
        sys.stderr.write(f"report: {text}\n")
        sys.stderr.flush()

    out = Path(args.out)
    built = build(Path(args.specs), Path(args.experiments), out, args.quick, progress if args.progress else None)
    written = write(out, built.text, built.artefacts)
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_INPUT
        return {"prove": run_prove, "export": run_export, "experiment": run_experiment, "audit": run_audit, "vectors": run_vectors,
                "conform": run_conform, "stacks": run_stacks, "report": run_report}.get(args.command, run_check)(args)
    except InputError as exc:
        sys.stderr.write(f"tcpmodel: error: {exc}\n")
        return EXIT_INPUT
    except KeyboardInterrupt:
        sys.stderr.write("tcpmodel: interrupted\n")
        return EXIT_INCOMPLETE
    except BrokenPipeError:
        return EXIT_OK
