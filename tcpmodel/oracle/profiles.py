"""Profiles: how strictly the oracle judges a trace, per implementation.

A profile enables spec options (``rfc5961``), allows delayed ACKs, bounds timers from below, and
lists its ``departures``: for each allowance, what RFC 9293 says and what the stack does. Only a
MAY or SHOULD of the RFC can become a departure; a stack that breaks a MUST is judged FAIL under
every profile, and its report says so (``tcpmodel.conformance.findings``).
"""

from __future__ import annotations

from dataclasses import dataclass

from tcpmodel.base.errors import InputError, did_you_mean


@dataclass(frozen=True)
class Profile:
    """How strictly a trace is judged: the spec's options and the allowances of an implementation.
    ``departures`` say, for each allowance, what RFC 9293 says and what the stack does."""

    name: str
    title: str
    options: frozenset[str] = frozenset()
    delayed_ack: bool = False
    min_seconds: tuple[tuple[str, float], ...] = ()  # (timer, shortest duration it may have)
    departures: tuple[str, ...] = ()


PROFILES = {
    "rfc9293": Profile(
        "rfc9293",
        "RFC 9293 as written, with the delayed ACKs it recommends (§3.8.6.3, SHLD-18)",
        delayed_ack=True,
        # RFC 6298 §2.4: RTO at least 1 s; RFC 9293 §3.8.3: R2 at least 100 s (SHLD-11);
        # §3.4.2: MSL is 2 minutes, so TIME-WAIT lasts 2 MSL = 240 s.
        min_seconds=(("RETRANSMISSION", 1.0), ("USER", 100.0), ("TIME-WAIT", 240.0)),
    ),
    "linux": Profile(
        "linux",
        "Linux: RFC 9293 with RFC 5961 challenge ACKs",
        frozenset({"rfc5961"}),
        delayed_ack=True,
        min_seconds=(("RETRANSMISSION", 0.2), ("USER", 100.0), ("TIME-WAIT", 60.0)),
        departures=(
            "RFC 6298 §2.4 says the RTO SHOULD be at least 1 s; Linux's minimum is 200 ms (TCP_RTO_MIN)",
            "RFC 9293 §3.4.2 takes MSL = 2 minutes, so TIME-WAIT lasts 4 minutes; Linux's lasts 60 s "
            "(TCP_TIMEWAIT_LEN; `tcpmodel experiment time-wait` measures it)",
            "RFC 9293 §3.10.7.4 (fourth, SYN bit) answers a SYN in a synchronized state with a reset as RFC 793 "
            "did, and describes RFC 5961's challenge ACK as the alternative; Linux sends the challenge ACK",
            "RFC 9293 §3.10.7.4 (second, RST bit) resets on any in-window RST; RFC 5961 §3, which RFC 9293 "
            "describes as optional, resets only on SEQ = RCV.NXT and challenges the rest; Linux does the latter",
            "RFC 9293 §3.10.7.4 (fifth, ACK field) ignores an ACK below SND.UNA as a duplicate and goes on with the "
            "segment; RFC 5961 §5.2, optional, drops a segment whose ACK is more than the peer's largest window "
            "below SND.UNA and sends a challenge ACK; Linux does the latter (tcp_ack)",
        ),
    ),
    "pytcp": Profile(
        "pytcp",
        "PyTCP: RFC 9293 with RFC 5961 challenge ACKs",
        frozenset({"rfc5961"}),
        delayed_ack=True,
        # PyTCP's RTO is at least 1 s (tcp__constants.TCP__RTO__MIN_MS); R2 is 6 retransmissions,
        # 127 s (TCP__RETRANSMIT__MAX_COUNT); TIME-WAIT lasts 30 s (TCP__TIME_WAIT__DELAY_MS).
        min_seconds=(("RETRANSMISSION", 1.0), ("USER", 100.0), ("TIME-WAIT", 30.0)),
        departures=(
            "RFC 9293 §3.4.2 takes MSL = 2 minutes, so TIME-WAIT lasts 4 minutes; PyTCP's lasts 30 s "
            "(pmd_pytcp/protocols/tcp/tcp__constants.py TCP__TIME_WAIT__DELAY_MS)",
            "RFC 9293 §3.10.7.4 (fourth, SYN bit) answers a SYN in a synchronized state with a reset as RFC 793 "
            "did, and describes RFC 5961's challenge ACK as the alternative; PyTCP sends the challenge ACK",
            "RFC 9293 §3.10.7.4 (second, RST bit) resets on any in-window RST; RFC 5961 §3, which RFC 9293 "
            "describes as optional, resets only on SEQ = RCV.NXT and challenges the rest; PyTCP does the latter",
        ),
    ),
    "slirp": Profile(
        "slirp",
        "libslirp: RFC 9293 with the TIME-WAIT of slirp's 4.4BSD timers (MSL 5 s)",
        delayed_ack=True,
        # tcp_timer.h: timers count ticks of tcp_slowtimo, every 500 ms (PR_SLOWHZ = 2); a timer of
        # n ticks fires between n-1 and n ticks after it is set. Slirp's least RTO, TCPTV_MIN = 2
        # ticks, could fire after 0.5 s, but only once several RTT samples have shrunk it, which no
        # vector takes (one sample gives 3 ticks, 1 to 1.5 s); the RFC's 1 s stays, so that a FIN
        # slirp sends late (a CLOSE in SYN-RECEIVED waits for the handshake) and repeats with its
        # next ACK is not taken for a retransmission by the oracle, whose timer runs from the CLOSE.
        min_seconds=(("RETRANSMISSION", 1.0), ("USER", 100.0), ("TIME-WAIT", 9.5)),
        departures=(
            "RFC 9293 §3.4.2 takes MSL = 2 minutes, so TIME-WAIT lasts 4 minutes; slirp's TCPTV_MSL is 5 s, so its "
            "TIME-WAIT lasts 2 × TCPTV_MSL = 20 ticks of 500 ms, 9.5 to 10 s",
        ),
    ),
    "lwip": Profile(
        "lwip",
        "lwIP: RFC 9293 with RFC 5961 challenge ACKs (§3, §4) and a 2-minute TIME-WAIT",
        frozenset({"rfc5961"}),
        delayed_ack=True,
        # lwIP's RTO is counted in 500 ms ticks and is never below 3 of them once it has measured
        # a round trip (2 before a retransmission can fire), so RFC 6298's 1 s minimum holds. The
        # rfc5961 option also brings RFC 5961 §5.2, which lwIP lacks: its finding ack-half-way-round.
        min_seconds=(("RETRANSMISSION", 1.0), ("USER", 100.0), ("TIME-WAIT", 120.0)),
        departures=(
            "RFC 9293 §3.4.2 takes MSL = 2 minutes, so TIME-WAIT lasts 4 minutes (an engineering choice that "
            "\"may be changed\"); lwIP's TCP_MSL is 60 s and its TIME-WAIT lasts 2 × TCP_MSL = 120 s (tcp_slowtmr)",
            "RFC 9293 §3.10.7.4 (fourth, SYN bit) answers a SYN in a synchronized state with a reset as RFC 793 "
            "did, and describes RFC 5961's challenge ACK as the alternative; lwIP sends the challenge ACK "
            "(tcp_process), except in TIME-WAIT (see its findings)",
            "RFC 9293 §3.10.7.4 (second, RST bit) resets on any in-window RST; RFC 5961 §3, which RFC 9293 "
            "describes as optional, resets only on SEQ = RCV.NXT and challenges the rest; lwIP does the latter "
            "(tcp_process), except in TIME-WAIT (see its findings)",
        ),
    ),
    # Not rfc5961: netstack sends RFC 5961 §4's challenge ACK for a SYN, but resets on any RST in
    # the window (RFC 793's rule, not §3's) and has no §5 ACK range, and the option takes all three
    # (see the gvisor findings).
    "gvisor": Profile(
        "gvisor",
        "gVisor netstack: RFC 9293 with netstack's timers",
        delayed_ack=True,
        min_seconds=(("RETRANSMISSION", 0.2), ("USER", 100.0), ("TIME-WAIT", 60.0)),
        departures=(
            "RFC 6298 §2.4 says the RTO SHOULD be at least 1 s; netstack's minimum is 200 ms by default "
            "(tcp.MinRTO; tcpmodel conform pins it to 1 s, so that its runs repeat)",
            "RFC 9293 §3.4.2 takes MSL = 2 minutes, so TIME-WAIT lasts 4 minutes; netstack's lasts 60 s "
            "(tcp.DefaultTCPTimeWaitTimeout)",
        ),
    ),
}


def profile_named(name: str) -> Profile:
    if name not in PROFILES:
        raise InputError(f'unknown profile "{name}"{did_you_mean(name, PROFILES)}; profiles: {", ".join(PROFILES)}')
    return PROFILES[name]
