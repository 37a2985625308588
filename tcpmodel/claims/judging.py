"""The claims of the source notes, each judged from the evidence ``report.gather`` collected.

Each claim quotes the notes (their own words, in Chinese), says it in English, and has a judge:
a function from the evidence to findings. A finding *supports* the claim, *corrects* it (the
claim holds, but a detail of it is wrong, and the finding says what is right) or *contradicts* it
(including evidence that did not come out as it should: the row then says so). The verdict is
derived from the findings alone: "does not hold" if one contradicts, else "holds with a
correction" if one corrects, else "holds". No verdict is written down anywhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tcpmodel.base.seqnum import seq_add, seq_sub
from tcpmodel.claims.evidence import FOLDER, Evidence
from tcpmodel.claims.ledger import Ledger
from tcpmodel.oracle.verdicts import PASS

SUPPORTS, CORRECTS, CONTRADICTS = "supports", "corrects", "contradicts"
HOLDS, CORRECTED, FAILS = "holds", "holds with a correction", "does not hold"
VERDICTS = (HOLDS, CORRECTED, FAILS)
MARK = {SUPPORTS: "✓", CORRECTS: "✎", CONTRADICTS: "✗"}
NOTES = "shared/ref/000_e27566675cacb3a3.txt"


@dataclass
class Finding:
    effect: str
    source: str  # model, variant, Z3, oracle, kernel
    short: str  # for the table
    text: str  # for the details
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, path)


@dataclass(frozen=True)
class Claim:
    number: int
    topic: str
    quotes: tuple[str, ...]  # the notes' own words, each a verbatim excerpt
    english: str
    judge: Callable[[Evidence], list[Finding]]


@dataclass
class Row:
    claim: Claim
    findings: list[Finding]

    @property
    def verdict(self) -> str:
        effects = {f.effect for f in self.findings}
        if CONTRADICTS in effects or not self.findings:
            return FAILS
        return CORRECTED if CORRECTS in effects else HOLDS


def judge_all(ev: Evidence) -> list[Row]:
    return [Row(claim, claim.judge(ev)) for claim in CLAIMS]


# ---------------------------------------------------------------- helpers


def effect(ok: bool) -> str:
    return SUPPORTS if ok else CONTRADICTS


def states(ev: Evidence, key: str) -> str:
    c = ev.checks[key]
    return f"{c.states:,} states"


def run_of(ev: Evidence, key: str) -> str:
    c = ev.checks[key]
    return f"`{c.spec_file}` ({c.scenario}; {c.states:,} states, {c.transitions:,} transitions)"


def ledger(ev: Evidence) -> Ledger:
    """The ledger of the reference run, which gathering always makes."""
    assert ev.ledger is not None
    return ev.ledger


def held(ev: Evidence, key: str, *names: str) -> bool:
    c = ev.checks[key]
    return c.complete and all(c.holds.get(n) is True for n in names)


def status(ev: Evidence, key: str, name: str) -> str:
    return {True: "holds", False: "is violated", None: "is undecided"}[ev.checks[key].holds.get(name)]


def props(*names: str) -> str:
    return ", ".join(f"`{n}`" for n in names)


def ce(ev: Evidence, variant: str, prop: str) -> tuple[int, list[tuple[str, str]]]:
    """The length of a variant's counterexample for ``prop`` and the links to it (0, [] if none)."""
    found = ev.checks[variant].counterexamples.get(prop)
    if found is None:
        return 0, []
    return len(found[1]), [(f"{variant} counterexample (SVG)", f"{FOLDER}/{variant}.{prop}.svg"),
                           (f"{variant} run (JSON lines)", f"{FOLDER}/{variant}.{prop}.jsonl")]


def pictures(ev: Evidence, name: str, label: str) -> list[tuple[str, str]]:
    """Links to a witness run's diagrams; several are told apart by their file names."""
    paths = ev.shown[name].files if name in ev.shown else []
    if len(paths) == 1:
        return [(label, paths[0])]
    return [(f"{label.split(' (')[0]}: {path.split('/')[-1].removesuffix('.svg')}", path) for path in paths]


def segments(records: list[dict], actor: str | None = None, flag: str | None = None) -> list[tuple[int, dict]]:
    """(step number, segment) of every segment sent in ``records``, by ``actor``, with ``flag``."""
    out = []
    for r in records:
        if actor is not None and r.get("actor") != actor:
            continue
        for seg in r.get("sent", []):
            if flag is None or flag in seg["flags"].split(","):
                out.append((r["index"], seg))
    return out


def seg_text(seg: dict) -> str:
    text = f"<{seg['flags']} SEQ={seg['seq']}"
    if "ACK" in seg["flags"].split(","):
        text += f" ACK={seg['ack']}"
    return text + (f" LEN={seg['len']}>" if seg["len"] else ">")


def proof(ev: Evidence, name: str) -> tuple[bool, str]:
    result = ev.proofs.get(name)
    if result is None:
        return False, f"`{name}`: not run"
    return result.ok, f"`{name}` {result.status}"


def verdict_of(ev: Evidence, name: str) -> str:
    return ev.oracle[name][1].verdict


# ---------------------------------------------------------------- the claims


def one_to_one(ev: Evidence) -> list[Finding]:
    ok = held(ev, "reference", "handshake_agreement", "syn_acknowledged")
    twice = held(ev, "reference@two_way_handshake", "handshake_agreement", "stream_integrity", "no_stale_reset")
    return [
        Finding(effect(ok), "model",
                f"{props('handshake_agreement', 'syn_acknowledged')} {'hold' if ok else 'fail'} ({states(ev, 'reference')})",
                f"On {run_of(ev, 'reference')}: {props('handshake_agreement')} {status(ev, 'reference', 'handshake_agreement')} "
                "(when both ends are ESTABLISHED each one's IRS is the other's ISS) and "
                f"{props('syn_acknowledged')} {status(ev, 'reference', 'syn_acknowledged')} (an endpoint becomes ESTABLISHED only on a "
                "segment of the one peer incarnation it synchronized with). A connection is one TCB at each of two ends, bound to "
                "each other by the ISNs they exchanged: RFC 9293 §2.2, \"TCP supports unicast delivery of data\" and \"TCP is "
                "connection oriented\"."),
        Finding(effect(twice), "model",
                f"a second incarnation on the same 4-tuple cannot join it ({states(ev, 'reference@two_way_handshake')})",
                f"With two incarnations on one 4-tuple, on {run_of(ev, 'reference@two_way_handshake')}: "
                f"{props('handshake_agreement', 'stream_integrity', 'no_stale_reset')} "
                f"{'hold' if twice else 'do not all hold'}: no octet, ISN or reset of another incarnation is taken into a "
                "connection. (Many clients can still talk to one server port: each is a connection of its own, a different "
                "4-tuple; the kernel run of claim 16 accepts 1,000 of them on one port.)"),
    ]


def reliable(ev: Evidence) -> list[Finding]:
    ok = held(ev, "reference", "stream_integrity", "close_completes", "deadlock_free", "progress")
    gave_up = ev.shown["gives-up"]
    facts = gave_up.facts
    lost = gave_up.run is not None and facts.get("state_after") == "CLOSED" and facts.get("lost") == facts.get("copies")
    return [
        Finding(effect(ok), "model", f"{props('stream_integrity', 'close_completes')} {'hold' if ok else 'fail'} on a lossy, "
                f"duplicating, reordering network ({states(ev, 'reference')})",
                f"On {run_of(ev, 'reference')}: {props('stream_integrity')} {status(ev, 'reference', 'stream_integrity')} (each end "
                "delivers a prefix of its peer's stream: no gap, no duplicate, no reordering) and "
                f"{props('close_completes')} {status(ev, 'reference', 'close_completes')} (in every fair run in which nobody gives "
                "up, both ends reach CLOSED, so every octet sent is delivered first). Damage is outside the model: segments carry "
                "octet counts, not octets; RFC 9293 §3.1's checksum is what detects it."),
        Finding(CORRECTS if lost else CONTRADICTS, "model",
                "but not \"always arrives\": when every copy is lost the sender gives up (R2)" if lost else "no run of giving up found",
                (f"\"Always reaches the receiver\" needs the network to deliver some copy eventually (the fairness the liveness "
                 f"properties assume). Without it TCP cannot deliver, and says so: in the timed run, A's octet leaves "
                 f"{facts.get('copies')} times, the network loses all {facts.get('lost')} copies, and A's user timeout ends "
                 "the connection (A "
                 f"{facts.get('state_after')}; B delivered nothing). RFC 9293 §3.8.3: after R2 retransmissions the connection "
                 "is closed (MUST-20) and the user told. Reliable means: delivered in order, or an error.")
                if lost else "The search for a run in which the sender gives up found none.",
                pictures(ev, "gives-up", "A gives up (SVG)")),
    ]


def byte_stream(ev: Evidence) -> list[Finding]:
    k = ev.kernel["message-boundaries"]
    data = [s for s in k["segments"] if s["len"] and s["from"] == "client"]
    joined = k["one_read"] == "".join(k["writes"]) and [s["len"] for s in data[:2]] == [len(w) for w in k["writes"]]
    split = "".join(k["reads_of_four"]) == k["write_of_ten"] and len(k["reads_of_four"]) > 1
    return [
        Finding(effect(joined), "kernel", f"2 send() → 2 segments → 1 recv() = {k['one_read']!r}",
                f"Linux {k['kernel']} (`tcpmodel experiment message-boundaries`, recorded): the client wrote "
                f"{' and '.join(repr(w) for w in k['writes'])} in two send() calls; they left as two segments of "
                f"{' and '.join(str(s['len']) for s in data[:2])} octets; the server's one recv() returned "
                f"{k['one_read']!r}. Nothing in the stream says where the first message ended.",
                [("recorded run", "experiments/message-boundaries.json")]),
        Finding(effect(split), "kernel", f"1 send() of 10 → recv(4) reads {', '.join(map(repr, k['reads_of_four']))}",
                f"One send() of {k['write_of_ten']!r} was read by recv(4) as {', '.join(map(repr, k['reads_of_four']))}. "
                "RFC 9293 §2.2: a byte-stream service; the model likewise carries octet counts, never messages. An application "
                "must frame its own messages (a length prefix, a delimiter).",
                [("recorded run", "experiments/message-boundaries.json")]),
    ]


def in_order(ev: Evidence) -> list[Finding]:
    led = ledger(ev)
    ok = held(ev, "reference", "stream_integrity")
    ahead = ok and led.ahead > 0 and led.ahead_delivered == 0
    again = ok and led.again > 0 and led.again_delivered == 0
    return [
        Finding(effect(ahead), "model", f"{led.ahead:,} arrivals ahead of RCV.NXT, none processed early",
                f"On {run_of(ev, 'reference')}, a segment arrived ahead of RCV.NXT (data or a FIN whose earlier octets "
                f"were still missing) {led.ahead:,} times; {led.ahead_delivered} of those moved RCV.NXT or reached the user, and "
                f"{props('stream_integrity')} {status(ev, 'reference', 'stream_integrity')}. RFC 9293 §3.10.7.4 says such "
                "segments SHOULD be held for later (SHLD-31); the reference spec drops their text and acknowledges RCV.NXT "
                "(MAY-13), relying on retransmission. Held or dropped, nothing reaches the application out of order."),
        Finding(effect(again), "model", f"{led.again:,} arrivals of old data, none delivered twice",
                f"Data that had already been delivered arrived again {led.again:,} times (duplicates and retransmissions); "
                f"{led.again_delivered} were delivered again."),
    ]


def sequence_numbers(ev: Evidence) -> list[Finding]:
    length, links = ce(ev, "fixed_isn", "stream_integrity")
    clock = held(ev, "reference@fixed_isn", "stream_integrity", "syn_acknowledged", "graceful_close")
    counted, counted_text = proof(ev, "symbolic_run.sequence_accounting")
    proved, proved_text = proof(ev, "symbolic_run.data_and_close")
    conn = ev.shown["connection"]
    records = conn.facts.get("records", [])
    a_syn = segments(records, "A", "SYN")
    a_data = [(n, s) for n, s in segments(records, "A") if s["len"]]
    a_fin = segments(records, "A", "FIN")
    numbers = ""
    if a_syn and a_data and a_fin:
        syn, data, fin = a_syn[0][1], a_data[0][1], a_fin[0][1]
        numbers = (f" In the model run below: A's SYN {seg_text(syn)}, its data {seg_text(data)}, its FIN "
                   f"{seg_text(fin)}: {data['len']} octets moved SEQ by {seq_sub(fin['seq'], data['seq'])}.")
    return [
        Finding(effect(length > 0) if length else CONTRADICTS, "variant",
                f"a fixed ISN delivers an old octet into a new connection ({length} steps)",
                f"`specs/variants/fixed_isn.toml` (every incarnation starts from the same ISN) violates "
                f"{props('stream_integrity')}: in {length} steps an octet of the previous incarnation is delivered in the new "
                f"one ({run_of(ev, 'fixed_isn')}). The ISN must change between incarnations.", links),
        Finding(CORRECTS if clock else CONTRADICTS, "model",
                "not random: a clock, plus a keyed pseudorandom offset; the clock alone keeps incarnations apart",
                f"The reference spec's ISNs are not random: a clock that moves on by 4 per incarnation ([isn] stride). Under "
                f"the same scenario, {run_of(ev, 'reference@fixed_isn')}, "
                f"{props('stream_integrity', 'syn_acknowledged', 'graceful_close')} "
                f"{'hold' if clock else 'do not hold'}. RFC 9293 §3.4.1: the ISN is clock-driven (MUST-8): "
                "ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a 4 µs clock and F a pseudorandom "
                "function with a secret key (SHLD-1, from RFC 6528). F makes the ISN look random to an off-path attacker "
                "who would forge segments; it is the clock that keeps the numbers of a new incarnation clear of an old "
                "one's."),
        Finding(CORRECTS if counted and proved else CONTRADICTS, "Z3",
                "SEQ counts octets, not sends; SYN and FIN take one number each (proved for all 32-bit ISNs)",
                f"\"累加一次\" per send is imprecise: {counted_text} and {proved_text} (Z3, every 32-bit ISN, every DATA up "
                "to the window): A's SYN has SEQ = ISS, its data SEQ = ISS + 1, its FIN SEQ = ISS + 1 + DATA. RFC 9293 §3.4.3: "
                "\"each segment is bound to as many consecutive sequence numbers as there are octets of data and SYN or FIN "
                f"flags in the segment\".{numbers}",
                [("proofs", f"{FOLDER}/proofs.md")] + pictures(ev, "connection", "model run (SVG)")),
    ]


def acknowledgment_number(ev: Evidence) -> list[Finding]:
    led = ledger(ev)
    ok = held(ev, "reference", "ack_of_sent_data") and led.acks > 0 and led.acks_not_rcv_nxt == 0
    counted, counted_text = proof(ev, "symbolic_run.sequence_accounting")
    return [
        Finding(effect(ok), "model", f"every one of {led.acks:,} ACKs sent = the sender's RCV.NXT; `ack_of_sent_data` holds",
                f"On {run_of(ev, 'reference')}, {led.acks:,} segments with ACK were sent by an endpoint with a TCB; "
                f"{led.acks_not_rcv_nxt} of them carried an ACK other than the sender's RCV.NXT (the next octet it expects), and "
                f"{props('ack_of_sent_data')} {status(ev, 'reference', 'ack_of_sent_data')} (no ACK beyond what the peer sent). "
                "RFC 9293 §3.1: the acknowledgment number is \"the value of the next sequence number the sender of the segment "
                "is expecting to receive\"."),
        Finding(effect(counted), "Z3", "ACK = RCV.NXT at every step of a whole connection, all 32-bit ISNs",
                f"{counted_text}: in a symbolic run of a whole connection every ACK sent equals the sender's RCV.NXT, for "
                "every pair of 32-bit ISNs.", [("proofs", f"{FOLDER}/proofs.md")]),
    ]


def control_bits(ev: Evidence) -> list[Finding]:
    led = ledger(ev)
    ok = held(ev, "reference", "ack_flag")
    kinds = sorted(led.without_ack)
    unexpected = [k for k in kinds if "SYN" not in k.split(",") and "RST" not in k.split(",")]
    resets = sorted(led.without_ack.get("RST", ()))
    syns = sorted(led.without_ack.get("SYN", ()))
    meanings = (led.syn_after_synchronized == 0 and led.fin_without_close == 0 and led.data_beyond_fin == 0
                and led.rst_ended > 0 and not led.rst_otherwise)
    return [
        Finding(effect(meanings), "model", "SYN only to open, FIN only after CLOSE and no data after it, an accepted RST ends the TCB",
                f"On {run_of(ev, 'reference')}: SYNs were sent only by {', '.join(f'`{r}`' for r in sorted(led.syn_rules))}, "
                f"never once the sender's own SYN was acknowledged ({led.syn_after_synchronized} times); a FIN was sent "
                f"{led.fin_without_close} times before the user's CLOSE and data beyond a FIN {led.data_beyond_fin} times; of "
                f"the RSTs that reached a synchronized endpoint, {led.rst_ended:,} deleted its TCB at once and "
                f"{led.rst_dropped:,} were outside the window and dropped (RFC 9293 §3.10.7.4), none did anything else. "
                "RFC 9293 §3.1: SYN \"synchronize sequence numbers\", FIN \"no more data from sender\", RST \"reset the "
                "connection\"."),
        Finding(effect(ok and not unexpected), "model",
                f"`ack_flag` {status(ev, 'reference', 'ack_flag')}: ACK on every segment but SYNs and resets",
                f"{props('ack_flag')} {status(ev, 'reference', 'ack_flag')} on the same run. Segments sent without ACK: "
                f"{', '.join(f'{k} (by {len(led.without_ack[k])} rules)' for k in kinds)}; initial SYNs from "
                f"{', '.join(f'`{r}`' for r in syns)}."),
        Finding(CORRECTS if resets else SUPPORTS, "model",
                f"correction: resets also go without ACK ({len(resets)} rules send <SEQ=…><CTL=RST>)" if resets else "no reset without ACK",
                ("Not only the first SYN: a reset answering a segment that carried ACK is `<SEQ=SEG.ACK><CTL=RST>`, and ABORT "
                 f"sends `<SEQ=SND.NXT><CTL=RST>`, both without ACK (RFC 9293 §3.10.7, §3.10.5). Rules that sent one here: "
                 f"{', '.join(f'`{r}`' for r in resets)}. RFC 9293 §3.1 says of the acknowledgment field: \"Once a connection "
                 "is established, this is always sent\"; a reset may be sent where there is no connection, or to end one.")
                if resets else "Every reset sent carried ACK."),
    ]


def handshake_steps(ev: Evidence) -> list[Finding]:
    proved, proved_text = proof(ev, "symbolic_run.handshake")
    conn = ev.shown["connection"]
    records = conn.facts.get("records", [])[: conn.facts.get("opened", 0)]
    syn = segments(records, "A", "SYN")
    synack = segments(records, "B", "SYN")
    third = [(n, s) for n, s in segments(records, "A", "ACK") if "SYN" not in s["flags"]]
    ok = bool(syn and synack and third)
    if ok:
        (_, s1), (_, s2), (n3, s3) = syn[0], synack[0], third[0]
        a_est = next((r["index"] for r in records if r.get("actor") == "A" and r.get("state_after") == "ESTABLISHED"), None)
        b_est = next((r["index"] for r in records if r.get("actor") == "B" and r.get("state_after") == "ESTABLISHED"), None)
        ok = (s2["ack"] == seq_add(s1["seq"], 1) and s3["seq"] == seq_add(s1["seq"], 1)
              and s3["ack"] == seq_add(s2["seq"], 1) and a_est == n3 and b_est is not None and b_est > n3)
        text = (f"In the shortest model run to both ESTABLISHED: A sends {seg_text(s1)}; B, in LISTEN, answers "
                f"{seg_text(s2)} (ACK = A's ISN + 1) and enters SYN-RECEIVED; A enters ESTABLISHED as it sends {seg_text(s3)} "
                f"(ACK = B's ISN + 1); B enters ESTABLISHED when that ACK arrives. A's first ISN is 2^32 − 2, so the numbers "
                "cross the wrap.")
    else:
        text = "No model run reached both ESTABLISHED."
    return [
        Finding(effect(ok), "model", "the model run: SYN, SYN,ACK with ACK = ISN+1, ACK with ACK = ISN+1",
                text, pictures(ev, "connection", "model run (SVG)")),
        Finding(effect(proved), "Z3", "proved for every pair of 32-bit ISNs",
                f"{proved_text}: for all 32-bit ISNs the three segments fire exactly these rules and leave both ESTABLISHED "
                "with each IRS equal to the other's ISS and each RCV.NXT = the other's ISS + 1. (The ISN itself: claim 5.)",
                [("proofs", f"{FOLDER}/proofs.md")]),
    ]


def third_segment(ev: Evidence) -> list[Finding]:
    shown = ev.shown["third-segment-data"]
    f = shown.facts
    model = shown.run is not None and f.get("state_after") == "ESTABLISHED" and f.get("delivered", 0) > 0
    active, passive, syn_data = (verdict_of(ev, n) for n in ("third-segment-data.active", "third-segment-data.passive", "syn-data.passive"))
    k = ev.kernel["syn-data"]
    segs = k["segments"]
    kernel = bool(segs) and "SYN" in segs[0]["flags"] and segs[0]["len"] > 0 and k["server_read"] == "hello"
    synack = next((s for s in segs if s["flags"].startswith("SYN,ACK")), None)
    return [
        Finding(effect(model), "model", "B, in SYN-RECEIVED, delivers data on the segment that completes its handshake",
                (f"The shortest model run: A's pure ACK is lost, its first data segment (ACK + {f.get('octets')} octet) completes "
                 f"B's handshake: rule `{f.get('rule')}` takes B to {f.get('state_after')} and delivers the octet.")
                if model else "No model run found in which the handshake completes with data.",
                pictures(ev, "third-segment-data", "model run (SVG)")),
        Finding(effect(active == passive == PASS), "oracle", f"traces with data on the third segment: {active}, {passive}",
                f"The oracle, judging against the reference spec (profile rfc9293): an active opener whose third segment is "
                f"ACK + 5 octets, without a pure ACK first: {active}; a passive opener that receives ACK + 5 octets as the third "
                f"segment and acknowledges them: {passive}. RFC 9293 §3.5: synchronizing \"using data-carrying segments ... is "
                "perfectly legitimate\".",
                [("active trace", ev.oracle["third-segment-data.active"][0]),
                 ("passive trace", ev.oracle["third-segment-data.passive"][0])]),
        Finding(CORRECTS if kernel and syn_data == PASS else CONTRADICTS, "kernel",
                f"correction: the first may carry data too: Linux's SYN carried {segs[0]['len'] if segs else 0} octets (TCP Fast Open)",
                (f"Linux {k['kernel']} with `net.ipv4.tcp_fastopen` = {k['sysctls'].get('net.ipv4.tcp_fastopen')} (TCP Fast Open, "
                 f"RFC 7413; `tcpmodel experiment syn-data`, recorded): the client's SYN carried {segs[0]['len']} octets, the "
                 f"server's SYN,ACK acknowledged them (relative ACK {synack['ack'] if synack else '?'}: SYN + data), and the "
                 f"server read {k['server_read']!r}. RFC 9293 §3.5 allows data on any handshake segment as long as the receiver "
                 "does not deliver it before the connection is ESTABLISHED (§3.10.7.2: text on a SYN is processed in "
                 f"SYN-RECEIVED). The reference spec accepts such a SYN (oracle: {syn_data}) but, a simplification, does not "
                 "acknowledge its text, which the sender then sends again. What the notes get right is the usual practice: "
                 "without an extension such as TFO (whose cookie lets a server accept SYN data only from clients it has "
                 "seen) stacks send data only once the handshake is done.")
                if kernel else "The recorded syn-data run did not show data on the SYN.",
                [("recorded run", "experiments/syn-data.json"), ("SYN-data trace", ev.oracle["syn-data.passive"][0])]),
    ]


def why_three_way(ev: Evidence) -> list[Finding]:
    length, links = ce(ev, "two_way_handshake", "handshake_agreement")
    reference_ok = held(ev, "reference@two_way_handshake", "handshake_agreement", "syn_acknowledged")
    ref, two = ev.shown["old-duplicate-syn.rfc9293"], ev.shown["old-duplicate-syn.two_way_handshake"]
    replayed = ref.run is not None and two.run is not None
    bogus = replayed and two.facts["b_established_on_old_syn"] and not ref.facts["b_established_on_old_syn"]
    recovered = replayed and ref.facts["final"] == {"A": "ESTABLISHED", "B": "ESTABLISHED"} and ref.facts["agree"]
    lost = replayed and two.facts["final"]["A"] != "ESTABLISHED"
    return [
        Finding(effect(length > 0 and reference_ok), "variant",
                f"two-way handshake: both ESTABLISHED with different ISNs ({length} steps); the reference holds",
                f"`specs/variants/two_way_handshake.toml` (LISTEN answers a SYN and is ESTABLISHED at once) violates "
                f"{props('handshake_agreement')} in {length} steps: an old duplicate SYN of B's first incarnation leaves both "
                f"ends ESTABLISHED with different ISNs ({run_of(ev, 'two_way_handshake')}). The reference under the same "
                f"scenario: {props('handshake_agreement', 'syn_acknowledged')} {'hold' if reference_ok else 'do not hold'} "
                f"({run_of(ev, 'reference@two_way_handshake')}).", links),
        Finding(effect(bogus and recovered and lost), "model",
                "RFC 9293 Figure 8 replayed: the two-way server opens a connection for the old SYN and refuses the real one",
                (f"The same stimulus on both specs: A gives up an open and opens again; its old SYN reaches B (LISTEN) first, "
                 f"then A answers B's SYN,ACK with a reset. Two-way: B is {two.facts['b_after_old_syn']} on the old SYN, a "
                 f"connection nobody asked for, which the reset tears down; B is then {two.facts['final']['B']} and A's real "
                 f"open ends {two.facts['final']['A']}. Three-way: B is only {ref.facts['b_after_old_syn']}, the reset sends "
                 f"it back to LISTEN, and A's real SYN then opens the connection (A {ref.facts['final']['A']}, B "
                 f"{ref.facts['final']['B']}, ISNs agreed). RFC 9293 §3.5: \"The principal reason for the three-way "
                 "handshake is to prevent old duplicate connection initiations from causing confusion\"; §3.4.1: the "
                 "receiver of a SYN \"has no way of knowing whether the segment was an old one\", so it must ask.")
                if replayed else "The replay of RFC 9293 Figure 8 did not run through.",
                pictures(ev, "old-duplicate-syn.two_way_handshake", "two-way (SVG)")
                + pictures(ev, "old-duplicate-syn.rfc9293", "three-way (SVG)")),
    ]


def four_way_close(ev: Evidence) -> list[Finding]:
    conn = ev.shown["connection"]
    records = conn.facts.get("records", [])[conn.facts.get("closing", 0):]
    order = [(r.get("actor"), s["flags"], r.get("state_after")) for r in records for s in r.get("sent", [])]
    expected = [("A", "FIN,ACK", "FIN-WAIT-1"), ("B", "ACK", "CLOSE-WAIT"), ("B", "FIN,ACK", "LAST-ACK"), ("A", "ACK", "TIME-WAIT")]
    last = records[-1] if records else {}
    closed = last.get("event") == "TIME-WAIT TIMEOUT" and last.get("states") == {"A": "CLOSED", "B": "CLOSED"}
    ok = order == expected and closed
    diagram = held(ev, "reference", "state_diagram", "time_wait_active_closer")
    proved, proved_text = proof(ev, "symbolic_run.data_and_close")
    counts = ev.checks["reference"].rule_counts
    three = counts.get("fin_wait_1_fin_acked_fin", 0)
    linux = three_segment_close(ev.kernel["syn-data"]["segments"])
    return [
        Finding(effect(ok and proved), "model", "FIN → ACK → FIN (LAST-ACK) → ACK (TIME-WAIT), then CLOSED after the timer",
                "The model run: " + "; ".join(f"{a} sends {fl} and is {st}" for a, fl, st in order)
                + (f"; A leaves TIME-WAIT by its timer ({last.get('rule')})." if closed else ".")
                + f" {proved_text} for all 32-bit ISNs.", pictures(ev, "connection", "model run (SVG)")),
        Finding(effect(diagram), "model", f"{props('state_diagram', 'time_wait_active_closer')} {'hold' if diagram else 'fail'}",
                f"On {run_of(ev, 'reference')}: every state change is an edge of RFC 9293's diagram and only the active closer "
                f"enters TIME-WAIT. Three segments are possible too: when B's ACK is lost, its FIN,ACK acknowledges A's FIN "
                f"as well and A goes from FIN-WAIT-1 straight to TIME-WAIT (rule `fin_wait_1_fin_acked_fin`, {three:,} times "
                "here)." + (" Linux does so when the application closes at once: in the recorded syn-data run the server's "
                            "FIN,ACK also acknowledged the client's FIN, and the close took three segments." if linux else "")),
    ]


def three_segment_close(segments: list[dict]) -> bool:
    """Whether a captured close was FIN, then FIN,ACK acknowledging it, with no pure ACK between."""
    first = next((n for n, s in enumerate(segments) if "FIN" in s["flags"].split(",")), None)
    if first is None or first + 1 >= len(segments):
        return False
    fin, answer = segments[first], segments[first + 1]
    return (answer["from"] != fin["from"] and "FIN" in answer["flags"].split(",")
            and answer["ack"] == seq_add(fin["seq"], fin["len"] + 1))


def why_four_way(ev: Evidence) -> list[Finding]:
    shown = ev.shown["close-wait-send"]
    ok = shown.run is not None and held(ev, "reference", "stream_integrity")
    return [
        Finding(effect(ok), "model", "B sends in CLOSE-WAIT, A (closed for sending) delivers it",
                (f"The shortest model run in which B calls SEND in CLOSE-WAIT and A delivers the octet: A's FIN has been "
                 f"acknowledged, A is in {shown.facts.get('a_state')} and delivers B's octet (rule `{shown.facts.get('rule')}`); "
                 "only then does B close, and LAST-ACK follows. RFC 9293 §3.6: CLOSE means \"I have no more data to send\"; "
                 "the side that closed may go on receiving (§3.6.1, half-closed connections).")
                if shown.run else "No run found in which B sends in CLOSE-WAIT and A delivers it.",
                pictures(ev, "close-wait-send", "model run (SVG)")),
    ]


def two_msl(ev: Evidence) -> list[Finding]:
    length, links = ce(ev, "time_wait_one_msl", "graceful_close")
    records = ev.checks["time_wait_one_msl"].counterexamples.get("graceful_close", (None, []))[1]
    rules = [r.get("rule") or r.get("event") for r in records]
    story = length > 0 and "fin_retransmit" in rules and "timewait_timeout" in rules and rules[-2:] == ["closed_ack", "rst"]
    reference = held(ev, "reference@time_wait_one_msl", "graceful_close")
    none, none_links = ce(ev, "no_time_wait", "graceful_close")
    k = ev.kernel["time-wait"]
    msl_sysctl = [n for n in k["time_wait_sysctls"] if "msl" in n or n.endswith("tw_timeout")]
    measured = abs(k["seconds"] - k["linux_tcp_timewait_len_seconds"]) < 3 and not msl_sysctl
    return [
        Finding(effect(story and reference), "variant",
                f"TIME-WAIT of 1 MSL: the lost last ACK's retransmitted FIN meets a closed port ({length} steps); 2 MSL holds",
                f"`specs/variants/time_wait_one_msl.toml` violates {props('graceful_close')} in {length} steps, in the timed "
                "model (MSL in ticks): A's last ACK is lost, B retransmits its FIN after one RTO, A's TIME-WAIT of one MSL "
                "has ended when it arrives, and the closed port answers with a reset. The reference (2 MSL) under the same "
                f"scenario: {props('graceful_close')} {status(ev, 'reference@time_wait_one_msl', 'graceful_close')} "
                f"({run_of(ev, 'reference@time_wait_one_msl')}). Without TIME-WAIT at all (`no_time_wait.toml`) the same "
                f"happens in {none} steps.", links + none_links[:1]),
        Finding(CORRECTS if measured else CONTRADICTS, "kernel",
                f"correction: Linux has no MSL; its TIME-WAIT is a fixed {k['linux_tcp_timewait_len_seconds']:g} s "
                f"(measured {k['seconds']:.2f} s); RFC 9293's MSL is 2 min",
                f"Linux {k['kernel']} (`tcpmodel experiment time-wait`, recorded): the active closer stayed in TIME-WAIT "
                f"{k['seconds']:.2f} s ± {k['resolution_seconds']:.2f} s (its timer showed {k['kernel_timer_at_entry_seconds']:g} s "
                f"on entry; the passive closer: {k['passive_closer_state']}). That is the compile-time TCP_TIMEWAIT_LEN of "
                f"{k['linux_tcp_timewait_len_seconds']:g} s, not 2 × a 30 s MSL: the kernel has no MSL setting (its TIME-WAIT "
                f"sysctls: {', '.join(f'`{n}`' for n in k['time_wait_sysctls'])}). RFC 9293 §3.4.2 takes MSL to be 2 minutes, "
                f"so 2·MSL = {k['rfc9293_two_msl_seconds']:g} s. The \"64 routers\" is IP's TTL, which routers decrement once "
                "per hop: it bounds hops, not seconds, and Linux derives no MSL from it.",
                [("recorded run", "experiments/time-wait.json")]),
    ]


def restart(ev: Evidence) -> list[Finding]:
    shown = ev.shown["time-wait-restart"]
    f = shown.facts
    ok = shown.run is not None and f["before"] < f["full"] == f["after"]
    return [
        Finding(effect(ok), "model", f"a FIN in TIME-WAIT: countdown {f.get('before')} → {f.get('after')} ticks (2 MSL)" if ok
                else "no restart found",
                (f"The shortest timed run (MSL = {f['msl']} ticks) in which A closes first, its last ACK is lost and B's "
                 f"retransmitted FIN reaches {f['endpoint']} in TIME-WAIT with the timer partly run down: {f['before']} of "
                 f"{f['full']} ticks were left; rule `timewait_fin` "
                 f"acknowledges the FIN and the countdown is {f['after']} again. RFC 9293 §3.10.7.4 (TIME-WAIT): \"Acknowledge it, "
                 "and restart the 2 MSL timeout.\" (Linux does the same: a FIN in TIME-WAIT reschedules the timer.)")
                if ok else "No timed run found in which a FIN restarts TIME-WAIT.",
                pictures(ev, "time-wait-restart", "timed model run (SVG)")),
    ]


def port_exhaustion(ev: Evidence) -> list[Finding]:
    k = ev.kernel["port-exhaustion"]
    refusal = k["first_refusal"] or {}
    exhausted = refusal.get("connects_before") == k["ports_used"] and refusal.get("time_wait_ports") == k["client_ports"]
    rate_ok = k["rate_ratio"] is not None and 0.9 <= k["rate_ratio"] <= 1.0
    cost = ev.kernel["time-wait-cost"]["client"]
    per_destination = (cost["third_connect_to_first"] == "EADDRNOTAVAIL"
                       and cost["connect_to_second_port"] in cost["time_wait_ports_to_first"])
    default_range = ev.kernel["time-wait-cost"]["server"].get("default_port_range", "")
    low, high = (int(x) for x in default_range.split()) if default_range else (0, -1)
    return [
        Finding(effect(exhausted and rate_ok), "kernel",
                f"{k['ports']} ports: connect {refusal.get('connects_before', 0) + 1} fails (EADDRNOTAVAIL); "
                f"rate {k['sustained_rate_per_second']:.4f}/s vs {k['predicted_rate_per_second']:.4f}/s predicted",
                f"Linux {k['kernel']} (`tcpmodel experiment port-exhaustion`, recorded): with `ip_local_port_range` narrowed to "
                f"{k['sysctls']['net.ipv4.ip_local_port_range']} and `tcp_tw_reuse` = 0, {refusal.get('connects_before')} "
                f"connects to one server succeed and the next fails with EADDRNOTAVAIL, ports "
                f"{', '.join(map(str, refusal.get('time_wait_ports', [])))} all in TIME-WAIT. Over {k['window_seconds']:g} s "
                f"each port came back {k['port_reuse_seconds']['min']:.2f}–{k['port_reuse_seconds']['max']:.2f} s after its "
                f"last use, and the sustained rate was {k['sustained_rate_per_second']:.4f}/s against ports ÷ TIME-WAIT = "
                f"{k['ports_used']} / 60 s = {k['predicted_rate_per_second']:.4f}/s (ratio {k['rate_ratio']:.3f}).",
                [("recorded run", "experiments/port-exhaustion.json")]),
        Finding(CORRECTS if per_destination and high > low else CONTRADICTS, "kernel",
                f"correction: not 65536 ports: the ephemeral range ({high - low + 1:,} ports), and per destination",
                f"connect() takes its port from `ip_local_port_range`, {low}–{high} in a fresh namespace ({high - low + 1:,} "
                "ports), "
                "not from all 65,536 port numbers. And a port in TIME-WAIT is taken only towards the same server: with two "
                f"ports both in TIME-WAIT towards one server, a third connect to it failed ({cost['third_connect_to_first']}) "
                f"while a connect to another server used port {cost['connect_to_second_port']}, one of the two "
                "(`tcpmodel experiment time-wait-cost`, recorded). The limit is on 4-tuples: ports × destinations.",
                [("recorded run", "experiments/time-wait-cost.json")]),
    ]


def server_cost(ev: Evidence) -> list[Finding]:
    s = ev.kernel["time-wait-cost"]["server"]
    grew = s["after"]["sockstat"].get("tw", 0) - s["before"]["sockstat"].get("tw", 0)
    memory = grew == s["connections"] == s["time_wait_on_server_port"] and bool(s["tw_sock_bytes"])
    no_fds = s["after"]["fds"] == s["before"]["fds"]
    return [
        Finding(effect(memory), "kernel", f"{s['connections']:,} server-side TIME-WAITs, {s['tw_sock_bytes']} bytes of kernel memory each",
                f"Linux {ev.kernel['time-wait-cost']['kernel']} (`tcpmodel experiment time-wait-cost`, recorded): "
                f"{s['connections']:,} connections, each closed first by the server, left {grew:,} TIME-WAITs in "
                f"/proc/net/sockstat, all on the server's one port: the server's port is not used up. Each is a "
                f"`tw_sock_TCP` of {s['tw_sock_bytes']} bytes (/proc/slabinfo), against {s['full_socket_bytes']} bytes for a full "
                f"TCP socket; `tcp_max_tw_buckets` ({s['tcp_max_tw_buckets']:,}) caps their number.",
                [("recorded run", "experiments/time-wait-cost.json")]),
        Finding(CORRECTS if no_fds else CONTRADICTS, "kernel",
                "correction: no file descriptors, no threads: a TIME-WAIT is a small kernel object",
                f"The server process held {s['before']['fds']} descriptors before and {s['after']['fds']} after: the application "
                "closed each socket, and the TIME-WAIT that remains is the kernel's, with no descriptor, buffer or thread. "
                "Descriptors, threads and buffers are what many *open* connections cost; TIME-WAITs cost memory (a quarter "
                "KiB each) and lookups.", [("recorded run", "experiments/time-wait-cost.json")]),
    ]


CLAIMS = (
    Claim(1, "connection-oriented, one-to-one",
          ("面向连接：一定是「一对一」才能连接，不能像 UDP 协议可以一个主机同时向多个主机发送消息，也就是一对多是无法做到的",),
          "Connection-oriented: a connection is always one-to-one; unlike UDP, one host cannot send to several hosts at once "
          "over it: one-to-many is impossible.", one_to_one),
    Claim(2, "reliable: no damage, no gap, no duplicate, in order",
          ("它能确保接收端接收的网络包是无损坏、无间隔、非冗余和按序的",
           "可靠的：无论的网络链路中出现了怎样的链路变化，TCP 都可以保证一个报文一定能够到达接收端"),
          "It ensures that what the receiver gets is undamaged, without gaps, without duplicates and in order. Reliable: "
          "whatever happens on the network path, TCP guarantees that a segment always reaches the receiver.", reliable),
    Claim(3, "a byte stream: no message boundaries",
          ("用户消息通过 TCP 协议传输时，消息可能会被操作系统「分组」成多个的 TCP 报文，"
           "如果接收方的程序如果不知道「消息的边界」，是无法读出一个有效的用户消息的",),
          "A user message sent over TCP may be split by the operating system into several TCP segments; a receiving program "
          "that does not know where messages end cannot read a valid message.", byte_stream),
    Claim(4, "out-of-order segments held back, duplicates dropped",
          ("当「前一个」TCP 报文没有收到的时候，即使它先收到了后面的 TCP 报文，那么也不能扔给应用层去处理，同时对「重复」的 TCP 报文会自动丢弃",),
          "While an earlier segment is missing, a later one that arrived first must not be handed to the application; "
          "duplicate segments are discarded automatically.", in_order),
    Claim(5, "ISN random; SEQ advances with each send",
          ("序列号SeqNum：在建立连接时由计算机生成的随机数作为其初始值，通过 SYN 包传给接收端主机，每发送一次数据，就累加一次",),
          "Sequence number: its initial value is a random number generated when the connection is set up, sent to the "
          "receiver in the SYN; it is incremented each time data is sent.", sequence_numbers),
    Claim(6, "ACK number = the next byte expected",
          ("确认应答号ACKNum：指下一次期望收到的数据的序列号",),
          "Acknowledgment number: the sequence number of the data expected next.", acknowledgment_number),
    Claim(7, "SYN, ACK, FIN, RST; ACK on all but the first SYN",
          ("SYN：该位为 1 时，表示希望建立连接", "ACK：该位为 1 时，确认应答的字段变为有效，TCP 规定除了最初建立连接时的 SYN 包之外该位必须设置为 1",
           "FIN：该位为 1 时，表示今后不会再有数据发送，希望断开连接", "RST：该位为 1 时，表示 TCP 连接中出现异常必须强制断开连接"),
          "SYN: the sender wants to open a connection. ACK: the acknowledgment field is valid; TCP requires it on every "
          "segment except the first SYN. FIN: no more data will be sent, the sender wants to close. RST: something is wrong "
          "and the connection must be torn down at once.", control_bits),
    Claim(8, "the three handshake steps and their numbers",
          ("客户端会随机初始化序号SeqNum_Client，同时把SYN控制位置为 1 表示希望建立连接",
           "服务端也是随机初始化自己的序号SeqNum_Server，然后把AckNum_Server置为SeqNum_Client+1，接着把SYN和ACK控制位置都置为 1",
           "AckNum_Client置为SeqNum_Server+1，然后ACK控制位置为 1，此时客户端终于处于ESTABLISHED状态。服务器收到客户端的应答报文后，也进入 ESTABLISHED 状态"),
          "1. The client picks its sequence number and sends SYN. 2. The server picks its own, sets its ACK number to the "
          "client's + 1 and sends SYN,ACK. 3. The client sets its ACK number to the server's + 1, sends ACK and is "
          "ESTABLISHED; the server is ESTABLISHED when that ACK arrives.", handshake_steps),
    Claim(9, "the third segment may carry data, the first two may not",
          ("前两次握手是不可以携带数据的，第三次握手是可以携带数据的",),
          "The first two segments of the handshake may not carry data; the third may.", third_segment),
    Claim(10, "why three-way: old duplicate SYNs",
          ("假如没有第三次握手，服务器不清楚客户端是否收到了自己发送的建立连接的 ACK 确认信号，"
           "所以每收到一个 SYN 就只能先主动建立一个连接，那么服务器在收到请求后就会建立多个冗余的无效链接，造成不必要的资源浪费",),
          "Without the third segment the server cannot know whether the client got its acknowledgment, so it must set up a "
          "connection for every SYN it receives: delayed SYNs create redundant, invalid connections and waste resources.",
          why_three_way),
    Claim(11, "the four-way close and LAST-ACK",
          ("客户端打算关闭连接，发送FIN报文", "服务端响应ACK报文", "服务端发送FIN报文，之后服务端进入 LAST_ACK 状态",
           "客户端最后回一个ACK 应答报文，进入TIME_WATI状态，并经过 2MSL时间后，才会进入 CLOSED 状态"),
          "1. The client sends FIN. 2. The server answers ACK. 3. The server sends FIN and enters LAST-ACK. 4. The client "
          "answers ACK, enters TIME-WAIT and reaches CLOSED after 2·MSL.", four_way_close),
    Claim(12, "why four-way: the passive side may still send",
          ("服务器收到客户端的 FIN 报文时，仅仅表示客户端不再发送数据了但是还可能接收数据。"
           "所以服务端可以继续处理和发送数据，等服务端不再发送数据时，才发送 FIN 报文给客户端来表示同意现在关闭连接",),
          "A FIN only means the client will send no more; it can still receive. So the server may go on processing and "
          "sending, and sends its own FIN when it has nothing more to send.", why_four_way),
    Claim(13, "TIME-WAIT lasts 2·MSL; why two",
          ("MSL 的单位是时间一般是30 秒，表示 Linux 认为数据报文经过 64 个路由器的时间不会超过 30 秒",
           "TIME_WAIT 等于 2 倍的 MSL，比较合理的解释是允许最后的ACK报文丢失一次，"
           "如果服务器方没有收到最后的 ACK 报文（1MSL），就会重发 FIN 报文（再次抵达客户端也要1MSL），因此一共2MSL"),
          "MSL is a time, usually 30 s: Linux assumes a segment crosses 64 routers within 30 s. TIME-WAIT is 2·MSL so that "
          "the last ACK may be lost once: the server, missing it (1 MSL), resends its FIN, which takes up to another MSL to "
          "arrive.", two_msl),
    Claim(14, "a FIN restarts the TIME-WAIT timer",
          ("客户端只要收到服务器发来的FIN之后，2MSL 时间将重新计时",),
          "Whenever the client receives the server's FIN again, the 2·MSL timer starts over.", restart),
    Claim(15, "too many TIME-WAITs exhaust a client's ports",
          ("一个 TCP 连接至少消耗「发起连接方」的一个本地端口；如果「发起连接方」的 TIME_WAIT 状态过多，"
           "占满了所有端口资源，则会导致无法创建新连接。端口资源是有限的，因为端口就 65536 个",),
          "Each connection takes at least one local port of the side that opened it; with too many TIME-WAITs every port is "
          "taken and no new connection can be made. Ports are limited: there are only 65,536.", port_exhaustion),
    Claim(16, "TIME-WAITs cost a server memory and descriptors",
          ("因为服务端只监听一个端口，不会因为 TCP 连接过多而导致端口资源受限。"
           "但是 TCP 连接过多，会占用系统资源，比如文件描述符、内存资源、CPU 资源、线程资源等",),
          "A server listens on one port, so many connections do not use up its ports; but they take system resources: file "
          "descriptors, memory, CPU, threads.", server_cost),
)
