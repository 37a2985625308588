#!/usr/bin/env python3
"""tcpmodel's audit against tshark's TCP analysis, on one generated pcap of a million segments.

Run from the repository root:

    python benchmarks/audit_vs_tshark.py [--segments N] [--keep PATH]

1. Generates an Ethernet/IPv4 pcap (``tcpmodel.traces.pcap.write_pcap``) of at least N TCP segments
   (default 1,000,000): complete connections between clients in 198.18.0.0/15 (RFC 2544's
   benchmarking range) and servers on port 80, overlapping in time as on a busy link. Each has a
   handshake with the options Linux sends (MSS, SACK permitted, timestamps, window scale), one to
   three request/response rounds (the response in up to six segments, the client acknowledging
   every second one as delayed ACKs do), timestamps on every segment, and a four-way close (some
   three-way: the passive closer's ACK rides on its FIN), started by either side. Client ports,
   ISNs and round trip times vary; about one connection in five has an ISN close enough to 2^32
   that its sequence or acknowledgment numbers wrap through 0. Every such connection should
   PASS. About one in a hundred carries one planted error (an ACK of one octet more than the
   peer's FIN, an ACK of data the peer never sent, or a data segment whose SEQ skips an octet),
   which the audit must FAIL: the script prints how many it found against how many were planted,
   and exits 1 if they are not the same connections. The payload is a fixed pseudo-random
   pattern that is no application protocol, so tshark's dissection stops at TCP (its protocol
   hierarchy for the file is eth/ip/tcp only).
2. Times ``tcpmodel.oracle.audit.audit_file`` on it in this process (spec specs/rfc9293.toml, profile
   rfc9293), as ``tcpmodel audit`` does: reading and splitting the capture, and judging every
   connection from both of its ends.
3. Times ``tshark -r FILE -q -o tcp.analyze_sequence_numbers:TRUE -z expert`` on the same file.
   Sequence analysis is what tshark does to find retransmissions, lost segments, ACKs of unseen
   segments and the like; the option forces it on (it is the default). ``-z expert`` collects the
   expert information of every packet, which is where that analysis reports, so tshark must run
   it over every packet and tell what it found; ``-q`` leaves out the per-packet lines, which
   would measure printing. tshark reads the file in one pass, as it does by default. It is not
   the same judgement: tshark tracks each stream's sequence space and flags anomalies; tcpmodel
   follows every state the RFC 9293 rules allow each endpoint to be in. Both run on one core.
4. Prints the machine, the file and each tool's seconds and segments per second, the ratio
   tcpmodel ÷ tshark of their times, and writes the same as benchmarks/RESULTS-audit.md.

tshark is Debian's ``tshark`` package: when it is missing, the script installs it as root
(``DEBIAN_FRONTEND=noninteractive apt-get install -y tshark``, with the wireshark-common question
about non-root capture answered "no" beforehand), and otherwise exits 2 saying how to install it.
Times are wall clock (``time.perf_counter``). The pcap is written to a temporary directory that
is removed at the end, unless ``--keep PATH`` moves it to PATH.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's tcpmodel, not another installed copy

from tcpmodel.language.spec import load_spec
from tcpmodel.oracle.audit import audit_file
from tcpmodel.oracle.profiles import profile_named
from tcpmodel.oracle.verdicts import FAIL, PASS
from tcpmodel.traces.packets import TcpPacket
from tcpmodel.traces.pcap import ethernet_frames, write_pcap

MODULUS = 1 << 32
MSS = 1448  # 1500-octet MTU less IPv4, TCP and the timestamp option
SEED = 9293
PLANTED_FRACTION = 0.01
WRAP_FRACTION = 0.1  # per side: about one connection in five wraps
EPOCH = 1_700_000_000.0  # the capture's first second (November 2023)
TSHARK_ARGS = ("-q", "-o", "tcp.analyze_sequence_numbers:TRUE", "-z", "expert")
RESULTS = ROOT / "benchmarks" / "RESULTS-audit.md"
ERRORS = ("ack_beyond_fin", "ack_of_unsent_data", "seq_skips_an_octet")
PAYLOAD = random.Random(SEED).randbytes(MSS)  # bytes no dissector takes for a protocol
CLIENT_HOSTS = 4000
EPHEMERAL = (32768, 60999)  # Linux's ip_local_port_range
SERVERS = 8


@dataclass(frozen=True)
class Plan:
    """One connection to write: what happens in it, not yet its segments."""

    number: int
    client: str
    server: str
    start: float
    rtt: float
    client_isn: int
    server_isn: int
    rounds: tuple[tuple[int, tuple[int, ...]], ...]  # (request octets, response segments' octets)
    server_acks_first: tuple[bool, ...]  # per round: a pure ACK of the request before the response
    server_closes: bool
    three_way_close: bool
    error: str | None  # one of ERRORS, or None

    @property
    def name(self) -> str:
        """The connection's name in an audit (``ConnectionVerdict.name``)."""
        return f"{self.client} -> {self.server} #0"

    def segments(self) -> int:
        rounds = sum(1 + len(r) + (len(r) + 1) // 2 + a for (_, r), a in zip(self.rounds, self.server_acks_first, strict=True))
        return 3 + rounds + (3 if self.three_way_close else 4)

    def wraps(self) -> bool:
        """Whether a sequence or acknowledgment number of this connection passes through 0."""
        client_octets = sum(q for q, _ in self.rounds) + 2  # SYN and FIN
        server_octets = sum(sum(r) for _, r in self.rounds) + 2
        return self.client_isn + client_octets > MODULUS or self.server_isn + server_octets > MODULUS


def plan_connections(segments: int, seed: int = SEED) -> list[Plan]:
    """Connections, in order of their start, until they hold at least ``segments`` segments."""
    rnd = random.Random(seed)
    plans, total, start = [], 0, 0.0
    for number in itertools.count():
        if total >= segments:
            break
        host, slot = number % CLIENT_HOSTS, number // CLIENT_HOSTS
        ports = EPHEMERAL[1] - EPHEMERAL[0] + 1
        if slot >= ports:
            raise ValueError(f"more than {CLIENT_HOSTS * ports:,} connections: ask for fewer segments")
        port = EPHEMERAL[0] + (slot * 7919 + host * 131) % ports  # 7919 is prime to the range's 28,232
        client = f"198.18.{host // 254}.{host % 254 + 1}:{port}"
        server = f"198.19.0.{number % SERVERS + 1}:80"
        rounds = tuple(
            (rnd.randint(40, MSS), tuple(MSS for _ in range(k - 1)) + (rnd.randint(1, MSS),))
            for k in (rnd.randint(1, 6) for _ in range(rnd.randint(1, 3)))
        )
        client_octets = sum(q for q, _ in rounds) + 2
        server_octets = sum(sum(r) for _, r in rounds) + 2
        client_isn = rnd.randrange(MODULUS)
        server_isn = rnd.randrange(MODULUS)
        if rnd.random() < WRAP_FRACTION:  # the wrap falls somewhere inside the connection
            client_isn = MODULUS - rnd.randint(1, client_octets - 1)
        if rnd.random() < WRAP_FRACTION:
            server_isn = MODULUS - rnd.randint(1, server_octets - 1)
        error = rnd.choice(ERRORS) if rnd.random() < PLANTED_FRACTION else None
        plan = Plan(
            number, client, server, start, rnd.uniform(0.0002, 0.04), client_isn, server_isn, rounds,
            tuple(rnd.random() < 0.3 for _ in rounds), rnd.random() < 0.3, rnd.random() < 0.3, error,
        )
        plans.append(plan)
        total += plan.segments()
        start += rnd.expovariate(1000.0)  # a thousand new connections a second
    return plans


def connection_packets(plan: Plan) -> list[TcpPacket]:
    """The connection's segments in the order a capture beside the client sees them."""
    packets: list[TcpPacket] = []
    c, s = plan.client, plan.server
    now = plan.start
    nxt = {c: plan.client_isn, s: plan.server_isn}  # SND.NXT of each end
    rcv = {c: 0, s: 0}  # RCV.NXT of each end
    clock = {c: plan.number * 7, s: plan.number * 13}  # timestamp clocks (ms)
    peer = {c: s, s: c}
    error_at = {}  # which segment carries the planted error
    if plan.error == "seq_skips_an_octet":
        error_at["request"] = len(plan.rounds) - 1
    elif plan.error == "ack_of_unsent_data":
        error_at["ack"] = len(plan.rounds) - 1

    def send(src: str, flags: str, octets: int = 0, gap: float = 0.00001, ack_extra: int = 0, seq_extra: int = 0,
             options: str | None = None, win: int | None = None) -> None:
        nonlocal now
        now += gap
        clock[src] += 1
        if options is None:
            options = f"0101080a{clock[src] % MODULUS:08x}{clock[peer[src]] % MODULUS:08x}"
        if win is None:
            win = 502 if src == c else 509  # 64256 and 65152 octets with window scale 7
        ack = (rcv[src] + ack_extra) % MODULUS if "ACK" in flags else 0
        data = PAYLOAD[:octets]
        packets.append(TcpPacket(now, src, peer[src], flags, (nxt[src] + seq_extra) % MODULUS, ack, win, data, options))
        length = octets + ("SYN" in flags) + ("FIN" in flags)
        nxt[src] += length
        rcv[peer[src]] = nxt[src]

    half = plan.rtt / 2
    syn_options = f"020405b40402080a{clock[c] + 1:08x}0000000001030307"
    send(c, "SYN", options=syn_options, win=64240)
    send(s, "SYN,ACK", gap=plan.rtt, options=f"020405b40402080a{clock[s] + 1:08x}{clock[c]:08x}01030307", win=65160)
    send(c, "ACK")
    for index, ((request, response), ack_first) in enumerate(zip(plan.rounds, plan.server_acks_first, strict=True)):
        seq_extra = 1 if error_at.get("request") == index else 0
        send(c, "ACK,PSH", request, seq_extra=seq_extra)
        nxt[c] += seq_extra  # the client went on from where its faulty segment ended
        rcv[s] = nxt[c]
        if ack_first:
            send(s, "ACK", gap=half + 0.0001)
        for k, octets in enumerate(response):
            send(s, "ACK,PSH" if k == len(response) - 1 else "ACK", octets, gap=half + 0.0002 if k == 0 and not ack_first else 0.00002)
            if k % 2 or k == len(response) - 1:
                extra = 1000 if error_at.get("ack") == index and k == len(response) - 1 else 0
                send(c, "ACK", gap=0.00003, ack_extra=extra)
        now += plan.rtt
    closer, other = (s, c) if plan.server_closes else (c, s)
    send(closer, "FIN,ACK", gap=half if closer == s else 0.001)
    if plan.three_way_close:
        send(other, "FIN,ACK", gap=half + 0.0002)
    else:
        send(other, "ACK", gap=half)
        send(other, "FIN,ACK", gap=0.0005)
    send(closer, "ACK", gap=half, ack_extra=1 if plan.error == "ack_beyond_fin" else 0)
    return packets


def capture_packets(plans: list[Plan]):
    """Every connection's packets, merged in time order (connections overlap), made as needed."""
    heap: list = []
    order = itertools.count()

    def push(packets) -> None:
        first = next(packets, None)
        if first is not None:
            heapq.heappush(heap, (first.t, next(order), first, packets))

    for plan in plans:
        while heap and heap[0][0] <= plan.start:
            _, _, packet, rest = heapq.heappop(heap)
            yield packet._replace(t=EPOCH + packet.t)
            push(rest)
        push(iter(connection_packets(plan)))
    while heap:
        _, _, packet, rest = heapq.heappop(heap)
        yield packet._replace(t=EPOCH + packet.t)
        push(rest)


def generate(path: Path, segments: int) -> list[Plan]:
    plans = plan_connections(segments)
    write_pcap(path, ethernet_frames(capture_packets(plans)))
    return plans


# ------------------------------------------------------------ the two tools


@dataclass
class AuditRun:
    seconds: float
    segments: int
    connections: int
    verdicts: dict[str, int]
    failed: set[str]
    error: str | None


def run_audit(path: Path) -> AuditRun:
    spec = load_spec(ROOT / "specs" / "rfc9293.toml")
    profile = profile_named("rfc9293")
    start = time.perf_counter()
    result = audit_file(str(path), spec, profile)
    seconds = time.perf_counter() - start
    verdicts: dict[str, int] = {}
    for connection in result.connections:
        verdicts[connection.verdict] = verdicts.get(connection.verdict, 0) + 1
    segments = sum(len(c.sides[0].trace.events) for c in result.connections)
    failed = {c.name for c in result.connections if c.verdict == FAIL}
    return AuditRun(seconds, segments, len(result.connections), verdicts, failed, result.error)


def missing(message: str) -> None:
    print(message, file=sys.stderr)
    sys.exit(2)


def ensure_tshark() -> str:
    found = shutil.which("tshark")
    if found:
        return found
    how = "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y tshark"
    if os.geteuid() != 0:
        missing(f"tshark is not installed and this is not root: install it with `{how}`, then run again")
    print("tshark is missing: installing Debian's tshark package", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # wireshark-common asks whether non-root users may capture packets: no.
    subprocess.run(["debconf-set-selections"], input=b"wireshark-common wireshark-common/install-setuid boolean false\n", env=env, check=False)
    install = ["apt-get", "install", "-y", "tshark"]
    if subprocess.run(install, env=env, stdout=subprocess.DEVNULL, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, stdout=subprocess.DEVNULL, check=False)  # the package lists may be stale
        if subprocess.run(install, env=env, stdout=subprocess.DEVNULL, check=False).returncode != 0:
            missing(f"tshark is missing and `{' '.join(install)}` failed: install it with `{how}`, then run again")
    found = shutil.which("tshark")
    if not found:
        missing(f"tshark is still missing after installing it: install it with `{how}`, then run again")
    return found


@dataclass
class TsharkRun:
    seconds: float
    command: str
    warnings: list[str]  # tshark's expert warnings: "count summary"


def run_tshark(tshark: str, path: Path) -> TsharkRun:
    command = [tshark, "-r", str(path), *TSHARK_ARGS]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"tshark failed (exit {done.returncode}): {done.stderr.strip()}")
    return TsharkRun(seconds, " ".join(["tshark", "-r", "FILE", *TSHARK_ARGS]), expert_warnings(done.stdout))


def expert_warnings(text: str) -> list[str]:
    """The lines of tshark's ``-z expert`` table of warnings, as "frequency summary"."""
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith(("Errors", "Warns", "Notes", "Chats", "Comments")):
            inside = line.startswith("Warns")
            continue
        fields = line.split(None, 3)
        if inside and len(fields) == 4 and fields[0].isdigit():
            lines.append(f"{int(fields[0]):,} {fields[3]}")
    return lines


def tshark_version(tshark: str) -> str:
    done = subprocess.run([tshark, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.splitlines()[0].strip() if done.stdout else "unknown"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# ------------------------------------------------------------ report


def report(machine: dict, file: dict, rows: list[tuple[str, float, int]], ratio: float, notes: list[str]) -> tuple[str, str]:
    """The figures as text for the terminal and as Markdown for RESULTS-audit.md."""
    text = [f"{k + ':':<12}{v}" for k, v in {**machine, **file}.items()]
    text.append("")
    text.append(f"{'tool':<10}{'seconds':>10}{'segments/s':>14}")
    for tool, seconds, segments in rows:
        text.append(f"{tool:<10}{seconds:>10.1f}{segments / seconds:>14,.0f}")
    text.append("")
    text.append(f"ratio:      tcpmodel ÷ tshark = {ratio:.1f} (time)")
    text += notes
    md = [
        "# tcpmodel audit vs tshark TCP analysis",
        "",
        "generated by benchmarks/audit_vs_tshark.py; do not edit",
        "",
        *[f"- {k}: {v}" for k, v in {**machine, **file}.items()],
        "",
        "| tool | seconds | segments/s |",
        "|---|---:|---:|",
        *[f"| {tool} | {seconds:.1f} | {segments / seconds:,.0f} |" for tool, seconds, segments in rows],
        "",
        f"Ratio tcpmodel ÷ tshark (time): **{ratio:.1f}**",
        "",
        *[f"- {n.strip()}" for n in notes],
    ]
    return "\n".join(text) + "\n", "\n".join(md) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--segments", type=int, default=1_000_000, help="at least this many segments (default: %(default)s)")
    parser.add_argument("--keep", metavar="PATH", type=Path, help="keep the generated pcap at PATH")
    args = parser.parse_args(argv)
    if args.segments < 100:
        parser.error("--segments: at least 100")
    if args.keep and not args.keep.resolve().parent.is_dir():
        parser.error(f"--keep: no directory {args.keep.resolve().parent}")
    tshark = ensure_tshark()
    machine = {
        "machine": f"{cpu_model()}, {os.cpu_count()} cores, Linux {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "tshark": tshark_version(tshark),
    }
    with tempfile.TemporaryDirectory(prefix="tcpmodel-bench-") as directory:
        path = Path(directory) / "audit-bench.pcap"
        print(f"generating at least {args.segments:,} segments ...", flush=True)
        start = time.perf_counter()
        plans = generate(path, args.segments)
        made = time.perf_counter() - start
        segments = sum(p.segments() for p in plans)
        planted = {p.name for p in plans if p.error}
        file = {
            "file": f"{segments:,} segments, {len(plans):,} connections, {path.stat().st_size / 1e6:,.1f} MB "
            f"(Ethernet/IPv4 pcap, written in {made:.1f} s)",
            "wrapping": f"{sum(p.wraps() for p in plans):,} connections whose sequence numbers pass through 0",
            "planted": f"{len(planted):,} connections with one deliberate error",
        }
        print(f"  {file['file']}", flush=True)
        print("tcpmodel audit (in-process, spec rfc9293, profile rfc9293) ...", flush=True)
        audit = run_audit(path)
        print(f"  {audit.seconds:.1f} s", flush=True)
        print(f"tshark {' '.join(TSHARK_ARGS)} ...", flush=True)
        shark = run_tshark(tshark, path)
        print(f"  {shark.seconds:.1f} s", flush=True)
        if args.keep:
            shutil.move(path, args.keep)
    problems = []
    if audit.error:
        problems.append(f"the audit stopped early: {audit.error}")
    if audit.segments != segments:
        problems.append(f"the audit judged {audit.segments:,} segments of the {segments:,} written")
    if audit.failed != planted:
        problems.append(f"FAIL for {len(audit.failed - planted):,} connections without a planted error, "
                        f"none for {len(planted - audit.failed):,} with one")
    if audit.verdicts.get(PASS, 0) != len(plans) - len(planted):
        problems.append(f"{len(plans) - len(planted):,} connections should PASS, {audit.verdicts.get(PASS, 0):,} did")
    verdicts = ", ".join(f"{n:,} {v}" for v, n in sorted(audit.verdicts.items()))
    notes = [
        f"tcpmodel:   {audit.connections:,} connections judged from both ends ({verdicts}); "
        f"found {len(audit.failed & planted):,} of the {len(planted):,} planted errors"
        + (f", and {len(audit.failed - planted):,} FAIL where none was planted" if audit.failed - planted else ""),
        f"tshark:     `{shark.command}`; expert warnings: " + ("; ".join(shark.warnings) or "none"),
    ]
    rows = [("tcpmodel", audit.seconds, segments), ("tshark", shark.seconds, segments)]
    text, md = report(machine, file, rows, audit.seconds / shark.seconds, notes)
    print()
    print(text, end="")
    if problems:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        print(f"not written: {RESULTS.relative_to(ROOT)} (the audit's verdicts are not the planted ones)", file=sys.stderr)
        return 1
    RESULTS.write_text(md)
    print(f"written:    {RESULTS.relative_to(ROOT)}")
    if args.keep:
        print(f"kept:       {args.keep}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
