"""Vectors as packetdrill scripts (https://github.com/google/packetdrill's script language).

A script makes the same user calls and sends the same segments as ``tcpmodel conform --stack
linux`` (``tcpmodel.conformance.stacks.linux``), so packetdrill and tcpmodel see the same kernel behaviour:

- user calls are system calls on a socket with TCP_NODELAY: CONNECT a non-blocking connect;
  LISTEN bind and listen, then accept once the connection is synchronized, and the listener is
  closed (a listener left open would answer later SYNs itself); SEND a write; CLOSE a
  shutdown(SHUT_WR) (RFC 9293's CLOSE: the connection still receives; after close() Linux answers
  arriving data with a reset), but close() in SYN-SENT, SYN-RECEIVED and LISTEN, where RFC 9293
  sends the FIN (or nothing) at once; ABORT a close with SO_LINGER {1, 0}.
- Sequence numbers follow packetdrill's rules. The endpoint's are relative to its ISN from its
  first SYN on; before that it has no ISN, packetdrill adds nothing, and they are written as they
  are (the <SEQ=0> of a reset from a closed port). The tester's SYNs (and the ACK field of the
  endpoint's SYNs) are written as they go on the wire, the tester's ISN being 0; its other numbers
  are relative to the segment packetdrill takes for the tester's ISN: the first segment to a
  listener, or in the active role the first SYN-ACK after the endpoint's SYN (a crafted SYN-ACK
  in a simultaneous open moves it).
- The tester's SYN offers MSS 1460 and every segment of its window 65535, as conform's tester.
- A segment "out of window" (where the endpoint has a window: not in CLOSED, LISTEN or
  SYN-SENT) is placed 65535 beyond RCV.NXT where the model places it RCV.WND beyond: no window a
  stack without window scaling advertises reaches it (conform moves it just beyond the window the
  stack advertised, which a script cannot read).
- A vector that begins with a segment to a closed port opens a listener and closes it first:
  packetdrill takes the addresses of its segments from the socket under test.

Timing, as RFC 9293 allows it (packetdrill checks the time of every segment it expects): the
endpoint's answers are due at once (within packetdrill's tolerance, 4 ms), but a pure ACK may be
delayed by up to 0.5 s (§3.8.6.3, MUST-40), and a segment the retransmission timer sends is due
between 1 s (RFC 6298 §2.4: the RTO is at least 1 s) and 3 s after the step before.

What a script cannot say is written as a comment: where the spec allows several answers, the
first is a line and the others are comments; "no segment" is a comment, since packetdrill cannot
wait for silence. A reset the endpoint sends on an ABORT from a synchronized state is written
with the ACK field RFC 9293 §3.1 sends on every segment once a connection is established
(<SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>, as Linux sends it), since packetdrill checks the ACK
flag and the oracle takes it for the spec's <CTL=RST> (``oracle._same``).

Not exported (``not_exported``): vectors that wait for the user timeout or TIME-WAIT (minutes on
a real stack), and user calls on a passive connection before accept() returns it (in
SYN-RECEIVED, or a SEND on a listener): the socket API has no handle on it, and conform SKIPs them.
"""

from __future__ import annotations

from tcpmodel.base.errors import printable
from tcpmodel.base.files import plain_file_name
from tcpmodel.base.seqnum import seq_add, seq_sub
from tcpmodel.vectors.generation import SegmentDict, Stimulus, Vector

LETTERS = {"SYN": "S", "FIN": "F", "RST": "R"}
SLOW_TIMERS = ("USER", "TIME-WAIT")
WINDOW = 65535  # the tester's window, and the largest any stack advertises without window scaling
MSS = 1460  # the tester's, as conform's tester offers it
ACK_DELAY = 0.5  # RFC 9293 §3.8.6.3: an ACK's delay MUST be less than 0.5 s
RTO_RANGE = (1, 3)  # seconds after the step before: RFC 6298 §2.4's least RTO, and 3 s
SYNCHRONIZED = ("ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT")
CLOSE_AT_ONCE = ("SYN-SENT", "SYN-RECEIVED", "LISTEN")  # where CLOSE is close(), not shutdown()
RESET_WITH_ACK = ("SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT")
WINDOWLESS = ("CLOSED", "LISTEN", "SYN-SENT")  # no RCV.NXT yet: no window to be out of


def not_exported(vector: Vector) -> str | None:
    """Why ``vector`` has no script, or None when it has one."""
    if any(vector.rfc_name(step.stimulus.get("timeout", "")) in SLOW_TIMERS for step in vector.steps):
        return "waits for a user timeout or TIME-WAIT"
    if vector.role == "passive":
        before = ["CLOSED"]
        for step in vector.steps:
            call = step.stimulus.get("call")
            if call in ("SEND", "CLOSE", "ABORT") and "SYN-RECEIVED" in before:
                return "makes a user call on a passive connection before accept() can return it"
            if call == "SEND" and "LISTEN" in before:
                return "sends on a listening socket"
            if any(state in SYNCHRONIZED for state in _rfc_states(vector, step.states)):
                break  # accepted: calls from here on have a socket
            before = _rfc_states(vector, step.states)
    return None


def _rfc_states(vector: Vector, states: list[str]) -> list[str]:
    """A step's states in RFC 9293's spellings (the spec's roles), which the lists above use."""
    return [vector.rfc_name(s) for s in states]


def script_name(vector: Vector) -> str:
    """The file name of ``vector``'s script: a plain file name (``base.files.plain_file_name``)."""
    return plain_file_name(f"{vector.name.replace(' ', '_')}.pkt")


def exportable(vector: Vector) -> bool:
    return not_exported(vector) is None


def script(vector: Vector, model_window: int) -> str:
    """The packetdrill script of ``vector``; ``model_window`` is the spec's RCV.WND."""
    return "\n".join(_Writer(vector, model_window).lines()) + "\n"


class _Writer:
    def __init__(self, vector: Vector, model_window: int):
        self.vector, self.model_window = vector, model_window
        self.fd = 3  # the socket the user calls go to: the listener until accept() returns 4
        self.isn: int | None = None  # the endpoint's ISN, once it sent a SYN
        self.rcv_nxt: int | None = None  # the ACK field of the endpoint's latest segment with ACK
        self.peer_base = vector.peer_isn  # what the tester's numbers other than a SYN's are relative to
        self.based = False  # whether packetdrill took a segment for the tester's ISN yet
        self.listener_first = vector.role == "passive" or "segment" in vector.steps[0].stimulus

    def lines(self) -> list[str]:
        vector = self.vector
        lines = [f"// {_comment(vector.name)}: {_comment(vector.target)}", "// generated by tcpmodel vectors; do not edit"]
        lines += ["0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3", "+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0"]
        if "segment" in vector.steps[0].stimulus:  # to a closed port: a listener that was, for the addresses
            lines += ["+0 bind(3, ..., ...) = 0", "+0 listen(3, 1) = 0", "+0 close(3) = 0"]
        elif vector.role == "active":
            lines += ["+0 setsockopt(3, IPPROTO_TCP, TCP_NODELAY, [1], 4) = 0", "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0"]
        before, accepted = ["CLOSED"], vector.role == "active"
        last = len(vector.steps) - 1
        for index, step in enumerate(vector.steps):
            stimulus = step.stimulus
            if "call" in stimulus:
                lines += self._call(stimulus, before)
            elif "timeout" in stimulus:
                lines.append(f"// {_comment(stimulus['timeout'])} timeout")
            else:
                lines.append("+0 < " + self._inbound(stimulus["segment"], index == last and not set(before) & set(WINDOWLESS)))
            first, *others = step.allowed or [[]]
            if not first:
                lines.append("// the spec allows no segment here")
            for n, segment in enumerate(first):
                reset_ack = "call" in stimulus and bool(before) and set(before) <= set(RESET_WITH_ACK)
                lines.append(f"{self._when(stimulus, segment, n)} > " + self._outbound(segment, reset_ack=reset_ack))
            for other in others:
                lines.append("// or: " + ("; ".join(self._outbound(s, reset_ack=False, note=True) for s in other) if other else "no segment"))
            states = _rfc_states(vector, step.states)
            if not accepted and any(state in SYNCHRONIZED for state in states):
                lines += ["+0 accept(3, ..., ...) = 4", "+0 setsockopt(4, IPPROTO_TCP, TCP_NODELAY, [1], 4) = 0", "+0 close(3) = 0"]
                self.fd, accepted = 4, True
            before = states
        return lines

    def _call(self, stimulus: Stimulus, before: list[str]) -> list[str]:
        call, fd = stimulus["call"], self.fd
        if call == "CONNECT":
            return ["+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)"]
        if call == "LISTEN":
            return ["+0 bind(3, ..., ...) = 0", "+0 listen(3, 1) = 0"]
        if call == "SEND":
            n = stimulus.get("len", 1)
            return [f"+0 write({fd}, ..., {n}) = {n}"]
        if call == "CLOSE":
            if any(state in CLOSE_AT_ONCE for state in before):
                return [f"+0 close({fd}) = 0"]
            return [f"+0 shutdown({fd}, SHUT_WR) = 0"]
        return [f"+0 setsockopt({fd}, SOL_SOCKET, SO_LINGER, {{onoff=1, linger=0}}, 8) = 0", f"+0 close({fd}) = 0"]

    def _when(self, stimulus: Stimulus, segment: SegmentDict, n: int) -> str:
        if n == 0 and "timeout" in stimulus:
            return f"+{RTO_RANGE[0]}~+{RTO_RANGE[1]}"
        if segment["flags"] == "ACK" and not segment["len"]:
            return f"+0~+{ACK_DELAY}"
        return "+0"

    def _own(self, value: int) -> int:
        """One of the endpoint's numbers as packetdrill writes it."""
        return seq_sub(value, self.isn or 0)

    def _peer(self, value: int, syn: bool) -> int:
        """One of the tester's numbers as packetdrill writes it, in or on a SYN or not."""
        return seq_sub(value, self.vector.peer_isn if syn else self.peer_base)

    def _inbound(self, segment: SegmentDict, shift: bool) -> str:
        seq = segment["seq"]
        if shift and self.vector.target.endswith("/ out of window"):
            seq += WINDOW - self.model_window
        flags = segment["flags"].split(",")
        text = _flags(flags, segment["len"]) + f" {_range(self._peer(seq, 'SYN' in flags), segment['len'])}"
        if not self.based and (self.listener_first or (flags == ["SYN", "ACK"] and self.isn is not None)):
            # packetdrill takes this segment's number (as written) for the tester's ISN
            self.peer_base = seq
            self.based = True
        if "ACK" in flags:
            text += f" ack {self._own(segment['ack'])}"
        return text + f" win {WINDOW}" + (f" <mss {MSS}>" if "SYN" in flags else "")

    def _outbound(self, segment: SegmentDict, reset_ack: bool, note: bool = False) -> str:
        flags = segment["flags"].split(",")
        if "SYN" in flags and self.isn is None and not note:
            self.isn = segment["seq"]
        ack = segment["ack"] if "ACK" in flags else None
        if reset_ack and flags == ["RST"] and self.rcv_nxt is not None:
            flags, ack = ["RST", "ACK"], self.rcv_nxt
        text = _flags(flags, segment["len"]) + f" {_range(self._own(segment['seq']), segment['len'])}"
        if ack is not None:
            text += f" ack {self._peer(ack, 'SYN' in flags)}"
            if not note:
                self.rcv_nxt = ack
        return text + (" <...>" if "SYN" in flags else "")


def _comment(text: str) -> str:
    """Text in a packetdrill ``//`` comment: names are validated, but nothing that could end the
    line (or be read as a backquoted shell command) is ever written raw."""
    return printable(text).replace("`", "'")


def _flags(flags: list[str], length: int) -> str:
    letters = "".join(LETTERS[f] for f in ("SYN", "FIN", "RST") if f in flags)
    if length and "ACK" in flags:
        letters += "P"
    return letters + ("." if "ACK" in flags else "")


def _range(seq: int, length: int) -> str:
    return f"{seq}:{seq_add(seq, length)}({length})"
