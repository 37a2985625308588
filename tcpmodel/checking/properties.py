"""The properties of TCP connection management, each named and tied to its RFC section.

These are checks, not behaviour: the behaviour is the spec's. Properties read RFC 9293's states,
two of its timers and four TCB variables through the spec's roles (``language.roles``): the spec
says which of its states is ESTABLISHED, which timer is TIME-WAIT's, which variable is SND.NXT
(by default the ones of the RFC spellings), and a spec that lacks one the properties need is a
spec error before anything is explored, never a property that silently checks nothing.

Some properties are about histories ("nothing from an older incarnation"). The ``Observer`` keeps
the little history they need as ghost fields of the system state, per endpoint:
``(peer_gen, passive_closer, delivered, ended)``: the incarnation of the peer whose SYN this
endpoint accepted, whether its user called CLOSE in CLOSE-WAIT, how many data octets it has
delivered to its user in this incarnation, and the number of its last incarnation if that one
ended with an orderly close (a FIN handshake, not a reset, ABORT or timeout), else 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tcpmodel.base.flags import ACK, FIN, RST, SYN
from tcpmodel.base.seqnum import seq_add, seq_diff, seq_le, seq_lt
from tcpmodel.checking.violation import STATE, TRANSITION, Violation
from tcpmodel.language.roles import PROPERTY_ROLES
from tcpmodel.language.spec import Spec
from tcpmodel.system.composed import CLOSED_BY_CLOSE, GEN, System
from tcpmodel.system.steps import EndpointStep, Label, SystemState

# Roles (language.roles) of the states the properties read.
UNSYNCHRONIZED = ("closed", "listen", "syn_sent")
CLOSING_AFTER_BOTH_FINS = ("closing", "last_ack")
ORDERLY_ENDS = ("fin_wait_1", "fin_wait_2", "closing", "time_wait")
OPENING = ("listen", "syn_sent")  # where a segment synchronizes an endpoint with its peer
OPEN_PENDING = ("syn_sent", "syn_received")
OPEN_ESTABLISHED = ("established", "close_wait")
VARIABLES = (("iss", "ISS"), ("irs", "IRS"), ("snd_nxt", "SND.NXT"), ("rcv_nxt", "RCV.NXT"))  # role, the key of Observer.var

# RFC 9293 §3.3.2, Figure 5 (in the RFC's spellings; a spec's states through its roles), plus the edges §3.10 adds: RST and ABORT lead to CLOSED (or back to
# LISTEN from a passive SYN-RECEIVED), a segment with FIN and the ACK of our FIN goes from
# FIN-WAIT-1 to TIME-WAIT, and one with the ACK of our SYN and a FIN from SYN-RECEIVED to
# CLOSE-WAIT (through ESTABLISHED, §3.10.7.4 fifth and eighth steps).
DIAGRAM_EDGES = frozenset(
    tuple(e.split(" -> "))
    for e in """
CLOSED -> LISTEN
CLOSED -> SYN-SENT
LISTEN -> SYN-RECEIVED
LISTEN -> SYN-SENT
LISTEN -> CLOSED
SYN-SENT -> SYN-RECEIVED
SYN-SENT -> ESTABLISHED
SYN-SENT -> CLOSED
SYN-RECEIVED -> ESTABLISHED
SYN-RECEIVED -> FIN-WAIT-1
SYN-RECEIVED -> CLOSE-WAIT
SYN-RECEIVED -> LISTEN
SYN-RECEIVED -> CLOSED
ESTABLISHED -> FIN-WAIT-1
ESTABLISHED -> CLOSE-WAIT
ESTABLISHED -> CLOSED
FIN-WAIT-1 -> FIN-WAIT-2
FIN-WAIT-1 -> CLOSING
FIN-WAIT-1 -> TIME-WAIT
FIN-WAIT-1 -> CLOSED
FIN-WAIT-2 -> TIME-WAIT
FIN-WAIT-2 -> CLOSED
CLOSE-WAIT -> LAST-ACK
CLOSE-WAIT -> CLOSED
CLOSING -> TIME-WAIT
CLOSING -> CLOSED
LAST-ACK -> CLOSED
TIME-WAIT -> CLOSED""".strip().splitlines()
)


@dataclass(frozen=True)
class Property:
    name: str
    kind: str  # invariant (of states), transition (of steps), liveness
    rfc: str
    text: str


PROPERTIES = (
    Property("handshake_agreement", "invariant", "RFC 9293 §3.5",
             "when both endpoints are ESTABLISHED, each one's IRS is the other's ISS: they agree on both initial sequence numbers"),
    Property("syn_acknowledged", "transition", "RFC 9293 §3.5",
             "an endpoint becomes ESTABLISHED only on a segment from the peer incarnation it synchronized with that acknowledges its own SYN"),
    Property("ack_flag", "transition", "RFC 9293 §3.4, §3.10.7",
             "every segment carries ACK except an initial SYN (from CLOSED or SYN-SENT) and resets"),
    Property("stream_integrity", "transition", "RFC 9293 §3.1, §3.10.7.4 (seventh step)",
             "each endpoint delivers a prefix of its peer's sent stream: no gap, no duplicate, no reordering, no octet from another incarnation"),
    Property("state_diagram", "transition", "RFC 9293 §3.3.2 (Figure 5), §3.10",
             "every state change is an edge of the RFC 9293 state diagram or a reset/abort edge of §3.10"),
    Property("time_wait_active_closer", "transition", "RFC 9293 §3.6",
             "only the active closer enters TIME-WAIT: never an endpoint whose user called CLOSE in CLOSE-WAIT"),
    Property("ack_of_sent_data", "transition", "RFC 9293 §3.4",
             "no segment acknowledges a sequence number its peer has not sent (SEG.ACK =< peer's SND.NXT)"),
    Property("graceful_close", "transition", "RFC 9293 §3.6, §3.10.7.4 (TIME-WAIT)",
             "an endpoint in CLOSING or LAST-ACK is never reset by a peer whose side of the connection ended with an orderly close: "
             "the peer keeps the TCB until the last ACK can no longer be needed"),
    Property("no_stale_reset", "transition", "RFC 9293 §3.4.3, §3.5.1",
             "a synchronized endpoint is never reset by a RST from an older incarnation of its peer than the one it synchronized with"),
    Property("deadlock_free", "liveness", "RFC 9293 §3.10",
             "every state without successors is a quiet final state (both endpoints CLOSED, users done, network empty)"),
    Property("progress", "liveness", "RFC 9293 §3.10",
             "from every reachable state a quiet final state is reachable (no stuck states)"),
    Property("open_completes", "liveness", "RFC 9293 §3.5, §3.8.3",
             "under fairness, every open (SYN-SENT or SYN-RECEIVED) ends ESTABLISHED or without a TCB (CLOSED/LISTEN); "
             "R2 user timeouts count, as RFC 9293 needs them to end some opens"),
    Property("close_completes", "liveness", "RFC 9293 §3.6",
             "in every fair run in which nobody gives up (no ABORT, no user timeout), once both users of a synchronized connection "
             "call CLOSE, both endpoints reach CLOSED"),
)
PROPERTY_NAMES = tuple(p.name for p in PROPERTIES)



def give_up_events(spec: Spec) -> tuple[str, ...]:
    """The steps by which someone gives up: a user's ABORT, and the expiry of the spec's user
    timer (R2, role ``user_timer``), if it has one."""
    user = spec.roles.get("user_timer")
    return ("ABORT",) + ((f"{user} TIMEOUT",) if user else ())


def role_states(spec: Spec, roles: tuple[str, ...]) -> frozenset[int]:
    """The indices of the spec's states in these roles (a role declared absent has none)."""
    return frozenset(spec.states.index(name) for name in (spec.roles.get(r) for r in roles) if name is not None)


def role_state(spec: Spec, role: str) -> int:
    """The index of the spec's state in ``role``, or -1 if the spec declares it has none."""
    name = spec.roles.get(role)
    return spec.states.index(name) if name is not None else -1


def diagram_edges(spec: Spec) -> frozenset[tuple[int, int]]:
    """The edges of ``DIAGRAM_EDGES`` between the spec's states, through its roles."""
    pairs = ((spec.roles.rfc_state(a), spec.roles.rfc_state(b)) for a, b in DIAGRAM_EDGES)
    return frozenset((spec.states.index(a), spec.states.index(b)) for a, b in pairs if a is not None and b is not None)

FAIRNESS = (
    "strong fairness: a step enabled infinitely often is taken infinitely often (so a segment "
    "retransmitted forever is eventually delivered, and users eventually CLOSE); close_completes "
    "considers only runs in which nobody gives up"
)


# A test of a step property on the peer's Checker.peer_view.
PeerTest = Callable[[tuple[Any, ...]], bool]
StatePredicate = Callable[[SystemState], bool]
# A leads-to property: the (P, Q) cases of which any one may fail, and whether runs that give up are left out.
LeadsTo = tuple[list[tuple[StatePredicate, StatePredicate]], bool]


class Observer:
    """Keeps the ghost history the properties need, as part of each system state."""

    def __init__(self, spec: Spec):
        spec.roles.require(PROPERTY_ROLES, "the TCP properties")  # a SpecError: the properties cannot be checked
        variables = [v.name for v in spec.variables]
        self.var = {name: variables.index(spec.roles[role]) + 1 for role, name in VARIABLES}
        self.unsynchronized = role_states(spec, UNSYNCHRONIZED)
        self.opening = role_states(spec, OPENING)
        self.close_wait = role_state(spec, "close_wait")
        self.orderly_ends = role_states(spec, ORDERLY_ENDS)
        timer = spec.roles.get("time_wait_timer")
        self.time_wait_timeout = f"{timer} TIMEOUT" if timer else None  # its expiry ends a connection in order
        self.system: System | None = None

    def initial_ghost(self, system: System) -> tuple:
        self.system = system
        return ((0, False, 0, 0), (0, False, 0, 0))

    def advance(self, step: EndpointStep) -> tuple:
        """An endpoint's ghost fields after ``step`` (whose ``new_ghost`` is not known yet;
        network steps leave them unchanged). Returns ``step.ghost`` itself when nothing changed."""
        ghost, pre, post, label = step.ghost, step.pre, step.post, step.label
        system, received = self.system, label.segment
        assert ghost is not None and system is not None  # initial_ghost gave the system its ghost fields
        peer_gen, passive, delivered, ended = ghost
        pre_tcb, post_tcb = pre[0], post[0]
        if post_tcb[0] in system.no_tcb:  # the TCB is deleted (or never existed)
            if pre_tcb[0] in self.orderly_ends and not any(seg[0] & RST for seg in label.sent) and (
                label.event == self.time_wait_timeout or (label.kind == "segment" and received is not None and not received[0] & (RST | SYN))
            ):
                ended = pre[1][0]
            elif pre_tcb[0] not in system.no_tcb:
                ended = 0
            new = (0, False, 0, ended)
        elif label.kind == "call":
            if label.event == "CLOSE" and pre_tcb[0] == self.close_wait:
                new = (peer_gen, True, delivered, ended)
            else:
                return ghost
        elif label.kind != "segment" or received is None:
            return ghost
        elif pre_tcb[0] in self.opening:
            new = (received[GEN], passive, delivered, 0)  # synchronized with this peer incarnation
        else:
            new = (peer_gen, passive, delivered + _octets_delivered(pre_tcb, post_tcb, received, self.var["RCV.NXT"])[0], ended)
        return ghost if new == ghost else new


def _octets_delivered(pre: tuple, post: tuple, seg: tuple, rcv_nxt: int) -> tuple[int, int, int]:
    """(data octets delivered, first octet's sequence number, RCV.NXT advance)."""
    r0, r1 = pre[rcv_nxt], post[rcv_nxt]
    advance = seq_diff(r1, r0)
    if advance <= 0:
        return 0, r0, advance
    first_data = seq_add(seg[1], 1) if seg[0] & SYN else seg[1]
    start = r0 if seq_le(first_data, r0) else first_data
    end_data = seq_add(first_data, seg[3])
    stop = end_data if seq_le(end_data, r1) else r1
    return max(seq_diff(stop, start), 0), start, advance


class Checker:
    """Evaluates the properties during and after exploration of one system."""

    def __init__(self, system: System, observer: Observer):
        self.system = system
        self.observer = observer
        spec = system.spec
        self.state_names = spec.states
        self.var = observer.var
        self.established = role_state(spec, "established")
        self.time_wait = role_state(spec, "time_wait")
        self.after_both_fins = role_states(spec, CLOSING_AFTER_BOTH_FINS)
        self.initial_syn_states = observer.opening | {system.initial_index}  # where a SYN without ACK is an initial SYN
        self.open_established = role_states(spec, OPEN_ESTABLISHED)
        self.edges = diagram_edges(spec)
        self.give_up_events = give_up_events(spec)
        self.violations: dict[str, Violation] = {}  # name -> the first violation found

    # ------------------------------------------------------------ during exploration

    def on_state(self, k: int, state: SystemState) -> None:
        if "handshake_agreement" not in self.violations and self.disagree(state[0]):
            self.violations["handshake_agreement"] = Violation(STATE, k)

    def disagree(self, endpoints) -> bool:
        """Both endpoints ESTABLISHED without agreeing on the ISNs (reads the two TCBs only)."""
        (a, _, _), (b, _, _) = endpoints
        if a[0] == self.established and b[0] == self.established:
            iss, irs = self.var["ISS"], self.var["IRS"]
            return a[irs] != b[iss] or b[irs] != a[iss]
        return False

    def on_step(self, k: int, step: EndpointStep, j: int) -> None:
        """Check one endpoint step from state k to state j (a ``StepWatcher``; network steps
        change no endpoint and are not passed here)."""
        for name in self.broken(step):
            if name not in self.violations:
                self.violations[name] = Violation(TRANSITION, k, step.label, j)

    def broken(self, step: EndpointStep) -> tuple[str, ...]:
        """The step properties an endpoint step of a system state breaks (it has its peer)."""
        names = self.step_violations(step)
        tests = self.peer_tests(step)
        if tests:
            assert step.peer is not None and step.peer_ghost is not None  # a step of a system state has its peer
            peer = self.peer_view(step.peer, step.peer_ghost)
            names += tuple(name for name, test in tests if test(peer))
        return names

    def peer_view(self, endpoint: tuple, ghost: tuple) -> tuple:
        """All that the step properties read of the endpoint that does not step: its user's
        incarnation, whether it has a TCB, its SND.NXT (when it has a TCB) and its ghost ``ended``."""
        tcb = endpoint[0]
        has_tcb = tcb[0] not in self.system.no_tcb
        return (endpoint[1][0], has_tcb, tcb[self.var["SND.NXT"]] if has_tcb else 0, ghost[3])

    def step_violations(self, step: EndpointStep) -> tuple[str, ...]:
        """The properties broken by an endpoint's step (its endpoint and ghost before and after),
        whatever the peer is."""
        assert step.ghost is not None and step.new_ghost is not None  # the checker's system has an observer
        return tuple(self._violated(step.label, step.pre[0], step.post[0], step.ghost, step.new_ghost))

    def peer_tests(self, step: EndpointStep) -> tuple[tuple[str, PeerTest], ...]:
        """The properties of this step that also read the peer: (name, test(peer_view)), where the
        test says whether the step breaks the property given the peer's ``peer_view``. Empty for
        most steps, so the packed explorer looks the peer up only for the steps that need it."""
        label, ghost = step.label, step.ghost
        assert ghost is not None  # the checker's system has an observer
        pre_tcb, post_tcb = step.pre[0], step.post[0]
        tests: list[tuple[str, PeerTest]] = []
        if label.sent and pre_tcb[0] not in self.observer.unsynchronized:
            peer_gen = ghost[0]
            acks = tuple(seg[2] for seg in label.sent if seg[0] & ACK)
            if acks:
                tests.append(("ack_of_sent_data", lambda peer: peer[0] == peer_gen and peer[1] and any(not seq_le(a, peer[2]) for a in acks)))
        if (label.kind == "segment" and label.segment is not None and label.segment[0] & RST and pre_tcb[0] in self.after_both_fins
                and post_tcb[0] in self.system.no_tcb):
            own_gen = ghost[0]
            tests.append(("graceful_close", lambda peer: bool(peer[3]) and peer[3] == own_gen))
        return tuple(tests)

    def _violated(self, label: Label, pre: tuple[Any, ...], post: tuple[Any, ...], ghost: tuple[Any, ...], new_ghost: tuple[Any, ...]) -> Iterator[str]:
        if pre[0] != post[0] and (pre[0], post[0]) not in self.edges:
            yield "state_diagram"
        if post[0] == self.time_wait and pre[0] != self.time_wait and ghost[1]:
            yield "time_wait_active_closer"
        for seg in label.sent:
            if not seg[0] & ACK and not seg[0] & RST and not (seg[0] & SYN and pre[0] in self.initial_syn_states):
                yield "ack_flag"
                break
        received = label.segment
        if label.kind == "segment" and received is not None:
            if post[0] in self.open_established and pre[0] not in self.open_established and not self._acknowledges_syn(pre, received, new_ghost):
                yield "syn_acknowledged"
            if received[0] & RST and post[0] in self.system.no_tcb and pre[0] not in self.observer.unsynchronized and received[GEN] < ghost[0]:
                yield "no_stale_reset"
            if (pre[0] not in self.observer.unsynchronized and post[0] not in self.system.no_tcb
                    and not self._stream_ok(label.actor, pre, post, received, ghost)):
                yield "stream_integrity"

    def _acknowledges_syn(self, pre, seg, new_ghost) -> bool:
        iss = pre[self.var["ISS"]]
        return bool(seg[0] & ACK) and seq_lt(iss, seg[2]) and seg[GEN] == new_ghost[0]

    def _stream_ok(self, i, pre, post, seg, ghost) -> bool:
        rcv_nxt = self.var["RCV.NXT"]
        octets, first, advance = _octets_delivered(pre, post, seg, rcv_nxt)
        if advance < 0:
            return False  # RCV.NXT moved backwards
        if advance == 0:
            return True
        seg_len = seg[3] + (1 if seg[0] & SYN else 0) + (1 if seg[0] & FIN else 0)
        if not (seq_le(seg[1], pre[rcv_nxt]) and seq_le(post[rcv_nxt], seq_add(seg[1], seg_len))):
            return False  # RCV.NXT moved over octets this segment does not carry: a gap
        peer_gen, _, delivered, _ = ghost
        origin = seq_add(self.system.isn(1 - i, seg[GEN]), 1)
        if octets and (seg[GEN] != peer_gen or seq_diff(first, origin) != delivered):
            return False  # octets of another incarnation, or not the next octets of the stream
        if seg[0] & FIN:
            fin = seq_add(seg[1], (1 if seg[0] & SYN else 0) + seg[3])
            accepted = seq_le(seq_add(fin, 1), post[rcv_nxt])
            if accepted and (seg[GEN] != peer_gen or seq_diff(fin, origin) != delivered + octets):
                return False  # a FIN accepted with octets before it undelivered, or another incarnation's FIN
        return True

    # ------------------------------------------------------------ liveness, after exploration
    # These predicates read only the endpoints, their ghosts and whether each channel is empty:
    # ``check`` evaluates them once per such combination on a packed exploration.

    def open_pending(self, i: int) -> StatePredicate:
        opening = role_states(self.system.spec, OPEN_PENDING)
        return lambda state: state[0][i][0][0] in opening

    def open_done(self, i: int) -> StatePredicate:
        done = {self.established} | set(self.system.no_tcb)
        return lambda state: state[0][i][0][0] in done

    def without_tcb(self, i: int) -> StatePredicate:
        no_tcb = self.system.no_tcb
        return lambda state: state[0][i][0][0] in no_tcb

    def leads_to(self) -> dict[str, LeadsTo]:
        """The leads-to properties: name -> (the [(P, Q), ...] of which any one case may fail,
        whether runs that give up (``give_up_events``) are left out). P and Q are predicates on
        states; a fair run (of those considered) from a P-state that never meets Q breaks it."""
        return {
            "open_completes": ([(self.open_pending(i), self.open_done(i)) for i in (0, 1)], False),
            "close_completes": ([(self.both_closed_synchronized, self.without_tcb(i)) for i in (0, 1)], True),
        }

    def both_closed_synchronized(self, state: SystemState) -> bool:
        """Both users called CLOSE (not ABORT) on one synchronized connection."""
        eps, _, ghost = state
        for i in (0, 1):
            tcb, user, _ = eps[i]
            if user[2] != CLOSED_BY_CLOSE or tcb[0] in self.observer.unsynchronized:
                return False
            if ghost[i][0] != eps[1 - i][1][0]:
                return False
        return True

