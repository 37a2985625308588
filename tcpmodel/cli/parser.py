"""The ``tcpmodel`` command line: every subcommand's options and help, and nothing else
(the commands run in ``tcpmodel.cli.<command>``)."""

from __future__ import annotations

import argparse

from tcpmodel.base.version import __version__
from tcpmodel.cli.arguments import (
    Parser,
    _positive,
    _positive_float,
    _size,
    _z3_seconds,
    add_scenario_arguments,
)

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

exit codes: 0 all properties hold, 1 a property is violated, 2 bad input, 3 incomplete (a bound,
Ctrl-C or SIGTERM: what was explored is printed)
"""


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
    prove.add_argument("--timeout", type=_z3_seconds, default=10.0, metavar="S", help="Z3 time limit per check (default: %(default)s s)")
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
            "deviation (event, what was seen, what the spec allowed there, RFC section), or INCONCLUSIVE. "
            "A run of the whole system (a counterexample `tcpmodel check` writes) is judged from each of its "
            "endpoints; a run has no clock, so its timers are judged without the profile's shortest durations.",
    )
    audit.add_argument("files", metavar="FILE", nargs="+", help="a .jsonl trace or run, or a pcap / pcapng capture; a FIFO, or - for standard input")
    audit.add_argument("--spec", default="specs/rfc9293.toml", help="the spec to judge against (default: %(default)s)")
    audit.add_argument("--profile", default="rfc9293", help="rfc9293 (default), or a stack's: linux, pytcp, lwip, slirp, gvisor; see the README's profiles")
    audit.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    audit.add_argument("--out", metavar="DIR", default="audits", help="where ladder diagrams (SVG) of FAILs are written (default: %(default)s)")
    replay = _subcommand(
        commands, "replay", "re-execute a run file (a counterexample of tcpmodel check) and see whether it reproduces", REPLAY_EPILOG,
            "Rebuild the spec (the run's spec file, or --spec) and the scenario its header records, re-execute "
            "every step of the run on the compiled system (each must be a step the system has in the state "
            "reached, with the same record), and evaluate the recorded property at the end: a state or step "
            "property on the last state or step, a liveness property on the states reachable from the last "
            "one; a run with a cycle must come back to the state its cycle started from.",
    )
    replay.add_argument("file", metavar="FILE", help="a run file, e.g. counterexamples/no_time_wait.graceful_close.jsonl")
    replay.add_argument("--spec", help="replay on this spec instead of the run's own spec file")
    replay.add_argument("--json", action="store_true", help="print one JSON object instead of text")
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
    conform.add_argument("--profile",
        help=("the profile to judge by (default: the stack's own, e.g. linux for linux; rfc9293 is RFC 9293 as written); see "
        "the README's profiles"))
    conform.add_argument("--vectors", metavar="SELECTOR", help="only vectors whose name contains one of these comma-separated substrings or matches a glob")
    conform.add_argument("--timeout", type=_positive_float, default=30.0, metavar="S",
        help=("per vector; a stack that takes longer is killed (default: %(default)s s)"))
    conform.add_argument("--settle", type=_positive_float, default=0.05, metavar="S",
        help=("seconds to collect the stack's segments after each stimulus, at least (default: %(default)s)"))
    conform.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    conform.add_argument("--out", metavar="DIR",
        help=("traces, pcaps and ladders of the vectors that do not PASS (default: vectors/ in the report's folder, e.g. "
        "reports/conformance/linux/vectors/, which git ignores; without --report, conformance-runs)"))
    conform.add_argument("--keep-all", action="store_true", help="also write the trace and pcap of every PASS")
    conform.add_argument("--report", metavar="PATH",
        help=("also write the Markdown report there (e.g. reports/conformance/linux.md), its JSON beside it, one example "
        "(trace, pcapng, ladder) of each finding in the folder of its name (reports/conformance/linux/), and regenerate "
        "the matrix README.md of that directory from every stack's JSON there"))
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
            "oracle on crafted traces, and the Linux kernel measurements recorded in tcpmodel/experiments/recorded/ (read, "
            "never re-run). Writes OUT/seed-claims.md, one row per claim with its verdict, and OUT/seed-claims/ "
            "(SVG diagrams, JSON-lines runs and traces, the proofs).",
    )
    report.add_argument("--out", metavar="DIR", default="reports", help="where seed-claims.md and seed-claims/ go (default: %(default)s)")
    report.add_argument("--specs", metavar="DIR", default="specs", help="the reference spec and variants/ (default: %(default)s)")
    report.add_argument("--experiments", metavar="DIR",
        help=("the recorded kernel runs (default: those in the package, tcpmodel/experiments/recorded/, from any working "
        "directory)"))
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
  tcpmodel experiment time-wait --record tcpmodel/experiments/recorded/time-wait.json
  tcpmodel experiment port-exhaustion --ports 4 --json
  tcpmodel experiment port-exhaustion --quick

exit codes: 0 measured, 2 bad input or no network namespaces here (not root, no ip command),
3 interrupted (Ctrl-C, SIGTERM; the namespace is removed)
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

exit codes: 0 written (whatever the verdicts), 2 bad input (a spec, a missing recorded experiment,
a folder that cannot be written), 3 interrupted (Ctrl-C, SIGTERM: nothing written)
"""

VECTORS_EPILOG = """examples:
  tcpmodel vectors specs/rfc9293.toml --out vectors
  tcpmodel vectors specs/rfc9293.toml --out pkt --format packetdrill

exit codes: 0 written, 2 bad input (a folder that cannot be written: nothing is), 3 interrupted
(Ctrl-C, SIGTERM: nothing is written)
"""

AUDIT_EPILOG = """examples:
  tcpmodel audit run.pcap                          every connection in a capture
  tcpdump -w - ... | tcpmodel audit -              a capture from a pipe (read to its end)
  tcpmodel audit trace.jsonl --profile linux --json
  tcpmodel audit run.pcap --out ladders            a FAIL's ladder: ladders/run.0.client.svg
  tcpmodel audit counterexamples/no_time_wait.graceful_close.jsonl --spec specs/variants/no_time_wait.toml
                                                   a counterexample run, judged from A and from B

exit codes: 0 no connection FAILs, 1 one does, 2 bad input (a file that cannot be read; a
truncated capture is still judged as far as it goes, then exits 2) or a ladder diagram that
cannot be written (after the verdicts), 3 interrupted (Ctrl-C, SIGTERM: the files judged so far
are printed, no diagram is written)
"""

REPLAY_EPILOG = """examples:
  tcpmodel check specs/variants/no_time_wait.toml; tcpmodel replay counterexamples/no_time_wait.graceful_close.jsonl
  tcpmodel replay run.jsonl --spec specs/rfc9293.toml   does the reference spec allow the variant's run?
  tcpmodel replay run.jsonl --json

exit codes: 0 the run reproduces its violation (or, without a property, every step re-executes),
1 a step is not a step of the system (its file:line is named) or the run no longer violates
the property, 2 bad input (a file that is not a run, a spec that cannot be read)
"""

EXPORT_EPILOG = """examples:
  tcpmodel export specs/rfc9293.toml --incarnations 1 --no-loss --no-duplication --no-reordering --out /tmp/m
      then: cd /tmp/m && spin -a rfc9293.pml && gcc -O2 -fwrapv -DNOREDUCE -DSAFETY -o pan pan.c && ./pan -m100000
      Spin: 10710 states, stored; 27658 transitions (tcpmodel check: 10,710 states, 27,657 transitions)
  tcpmodel export specs/rfc9293.toml --format tla --out /tmp/t
      then: cd /tmp/t && java -cp tla2tools.jar tlc2.TLC -workers auto rfc9293
  python benchmarks/spin_vs_tcpmodel.py      tcpmodel, Spin (and TLC) on three scenarios side by side

exit codes: 0 written, 2 bad input (a spec, a scenario option, a folder that cannot be written),
3 interrupted (Ctrl-C, SIGTERM: nothing is written)
"""

PROVE_EPILOG = """examples:
  tcpmodel prove specs/rfc9293.toml --report reports/proofs.md
  tcpmodel prove specs/variants/naive_compare.toml     refuted: a 32-bit counterexample at the wrap

exit codes: 0 every obligation proved, 1 one refuted (with a model), 2 bad input, 3 Z3 could
not decide one within the time limit, or interrupted (Ctrl-C, SIGTERM: the obligations decided so
far are printed, no report is written)
"""
