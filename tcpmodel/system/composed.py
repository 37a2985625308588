"""The composed system: two endpoints, a network of two bounded channels, and the environment.

A system state is a tuple ``(endpoints, channels, ghost)``:

- ``endpoints[i] = (tcb, user, timers)``. ``tcb`` is the spec's TCB (see ``codegen``);
  ``user = (opens, sent, closed)`` is the user's script: how many times it has opened, whether it
  has called SEND in this incarnation, and 0 / CLOSED_BY_CLOSE / CLOSED_BY_ABORT. In each
  incarnation a user calls SEND at most once (before CLOSE), CLOSE at most once, and ABORT at
  most once, before or after CLOSE (RFC 9293 §3.10.5 allows ABORT in every state: it is how a user
  gives up on a peer that has vanished). ``timers`` holds a
  countdown per spec timer in the timed mode (-1 when the timer is not running), else ``()``.
- ``channels[0]`` carries A to B, ``channels[1]`` B to A: tuples of segments
  ``(flags, seq, ack, data, window, gen, cause, age)``. ``gen`` is the sender's incarnation number
  and ``cause`` the kind of event that produced the segment (``CAUSE_*``): ghost fields that no
  rule can read (old duplicates are told apart only by their numbers, as in a real network) but
  that properties use to say which incarnation a byte or a reset came from. With reordering a
  channel is a sorted multiset, else a FIFO queue.
- ``ghost``: the observer's state (``properties``), carried so that properties over histories
  become properties of states. Only endpoint steps change it; network steps and ticks do not.

Transitions are labelled tuples (``steps.Label``) so a counterexample can be replayed and explained;
``steps.decode_step`` reads an endpoint's step out of a transition.

In the untimed mode a running timer fires according to its ``untimed`` mark: "any" at any time;
"quiet" only while the network is empty (the retransmission timeout is longer than any round
trip; the scenario's ``premature_timeouts`` turns this into "any"); "drained" (TIME-WAIT) only once
the network is empty and the peer has no retransmission pending: the untimed reading of "2·MSL
has passed". The timed mode has a ``tick``
that ages segments (a segment dies when its age reaches MSL) and counts timers down; a timer fires
when its countdown reaches zero, and time does not pass while one is due.

The reduction ``merge_causes`` (``tcpmodel check --reduce``) explores the quotient of this system
by h, the map that clears every segment's ``cause`` except its ABSOLUTE_SEQ bit. It is sound
because ``cause`` is written and never read, apart from that bit:

1. rules read a segment only through ``codegen.SEGMENT_SOURCE`` (flags, SEQ, ACK, data, window:
   ``s[0]`` to ``s[4]``; ``step`` memoises on ``segment[:5]``), the system reads ``seg[CAUSE]``
   only as ``& ABSOLUTE_SEQ`` (``_deliver``, ``_seen_as``), and channels, capacity and ageing
   treat segments as values and count them;
2. no property reads it: the observer and the checker read flags, numbers, GEN and the endpoints
   (``properties``), and a counterexample prints only the ABSOLUTE_SEQ bit.

So h is a functional bisimulation: the successors of h(s) are h of the successors of s, with the
same labels but for cause (segments equal under h are delivered, lost or duplicated once instead
of once each, which is why transitions shrink with states), and every state predicate and step
property has the same value on s and h(s). Hence the reduced system reaches exactly h of the
reachable states, with: the same violations of every invariant and step property, at the same
BFS depth (a path lifts from h(s) to s step by step, and projects back), so the shortest
counterexamples are as long; the same terminal states, so deadlock and progress are decided
alike; and for the leads-to properties under strong fairness, h maps a bottom SCC onto a closed,
strongly connected, so bottom, SCC, and from any state in the preimage of a bottom SCC of the
quotient a bottom SCC of the original is reachable inside that preimage, so a fair run avoiding
Q exists in one exactly when it exists in the other (also without the give-up steps, whose labels
h keeps). A lasso's loop is then a loop of the quotient: it repeats up to the segments' causes.
No Z3 obligation is involved: the argument is about which fields the code reads, and
``tests/test_reduction.py`` checks the bisimulation state by state on small scenarios.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from tcpmodel.base.errors import SpecError
from tcpmodel.base.flags import ACK, flag_names
from tcpmodel.base.seqnum import representatives, seq_add
from tcpmodel.language.codegen import CompiledSpec, Fired, evaluate_constant
from tcpmodel.language.expressions import SEQ
from tcpmodel.language.spec import SEGMENT, Spec, unset_variables
from tcpmodel.system.scenario import ENDPOINTS, Scenario
from tcpmodel.system.steps import EndpointStep, Label, SystemState

CLOSED_BY_CLOSE, CLOSED_BY_ABORT = 1, 2
CAUSE_SEGMENT, CAUSE_TIMER, CAUSE_CALL, CAUSE_ABORT = 0, 1, 2, 3
ABSOLUTE_SEQ = 4  # a bit of ``cause``: the segment's SEQ is an absolute number (Send.absolute_seq)
GEN, CAUSE, AGE = 5, 6, 7


class System:
    """The transition system of a spec under a scenario, with an optional observer."""

    def __init__(self, spec: Spec, scenario: Scenario, observer=None, merge_causes: bool = False):
        self.spec = spec
        self.scenario = scenario
        self.merge_causes = merge_causes
        window = spec.constants.get("RCV.WND", 0)
        self.compiled = CompiledSpec(spec, scenario.options, window)
        self.observer = observer
        values = {"MSL": scenario.msl, "RTO": scenario.rto, **spec.constants}
        self.durations = tuple(evaluate_constant(t.duration, values) for t in spec.timers)
        self.timer_events = tuple(f"{t.name} TIMEOUT" for t in spec.timers)
        untimed = tuple("any" if t.untimed == "quiet" and scenario.premature_timeouts else t.untimed for t in spec.timers)
        self.untimed = untimed
        self.initial_index = self.compiled.state_index[spec.initial]
        self.no_tcb = frozenset(self.compiled.state_index[s] for s in spec.no_tcb)
        self.open_events = tuple(
            {"active": ("CONNECT",), "passive": ("LISTEN",), "either": ("CONNECT", "LISTEN")}[r] for r in scenario.roles
        )
        self._memo: dict[tuple, Fired | Literal[False] | None] = {}  # False: no rule fires

    # ------------------------------------------------------------ states

    def initial_states(self) -> list[SystemState]:
        timers = tuple(-1 for _ in self.spec.timers) if self.scenario.timed else ()
        endpoint = (self.compiled.initial_tcb(), (0, False, 0), timers)
        ghost = self.observer.initial_ghost(self) if self.observer else ()
        return [((endpoint, endpoint), ((), ()), ghost)]

    def is_quiet(self, state: SystemState) -> bool:
        """A quiet final state: both users done, both endpoints without a TCB, nothing in flight."""
        endpoints, channels, _ = state
        return not channels[0] and not channels[1] and all(
            ep[0][0] == self.initial_index and ep[1][0] == self.scenario.incarnations for ep in endpoints
        )

    def isn(self, i: int, opens: int) -> int:
        return seq_add(self.scenario.isn[i], self.scenario.isn_stride * max(opens - 1, 0))

    # ------------------------------------------------------------ endpoint steps (memoised)

    def step(self, tcb: tuple, event: str, segment: tuple | None, env: tuple) -> Fired | None:
        """The rule that fires for ``event`` in ``tcb``: (rule, new tcb, sends, restarts) or None."""
        key = (tcb, event, segment[:5] if segment else None, env)
        hit: Fired | Literal[False] | None = self._memo.get(key)
        if hit is None:
            fn = self.compiled.dispatch.get((tcb[0], event))
            hit = fn(tcb, segment, env) if fn else False
            if hit and any(seg[3] < 0 for seg in hit[2]):
                rule = self.spec.rules[hit[0]]
                raise SpecError(f"rule sends a segment with a negative data length in state {self.spec.states[tcb[0]]}",
                                where=rule.where, rule=rule.name, field="send")
            self._memo[key] = hit
        return hit or None

    def sequence_numbers(self) -> set[int]:
        """Every sequence number the explored steps used: the seq-typed variables of each TCB
        before and after a step (those its state has set: ``unset_variables``), the ISNs, and the
        SEQ and ACK of each segment sent, except an absolute SEQ (delivered everywhere on purpose,
        see ``_seen_as``)."""
        absolute = self.compiled.absolute
        unset = unset_variables(self.spec, self.scenario.options)
        index = self.compiled.var_index
        slots = [tuple(index[v.name] for v in self.spec.variables if v.type == SEQ and v.name not in unset[s]) for s in self.spec.states]
        numbers = set()
        for (tcb, _, _, env), hit in self._memo.items():
            numbers.add(env[0])
            tcbs = (tcb, hit[1]) if hit else (tcb,)
            numbers.update(t[i] for t in tcbs for i in slots[t[0]])
            if not hit:
                continue
            for seg in hit[2]:
                if seg[0] & ACK:
                    numbers.add(seg[2])
                if (hit[0], seg[0]) not in absolute:
                    numbers.add(seg[1])
        return numbers

    def _no_rule(self, tcb: tuple, event: str, segment: tuple | None) -> SpecError:
        state = self.spec.states[tcb[0]]
        what = f"segment <{flag_names(segment[0])} SEQ={segment[1]} ACK={segment[2]} DATA={segment[3]}>" if segment else event
        return SpecError(
            f"no rule handles {what} in state {state}: add a rule (or an explicit drop rule) for it",
            where=self.spec.states_where or str(self.spec.path),
        )

    # ------------------------------------------------------------ successors

    def successors(self, state: SystemState) -> Iterator[tuple[Label, SystemState]]:
        """Yield (Label, next state) for every transition enabled in ``state``.

        The steps are composed from three kinds of parts that each read only a few components of
        the state (``endpoint_steps``, ``deliveries``, ``network_steps``); the packed explorer
        (``tcpmodel.checking.packed``) memoises those parts on exactly those components, so both explorers
        run this one definition of the system."""
        endpoints, channels, ghost = state
        empty = not channels[0] and not channels[1]
        for i in (0, 1):
            peer_pending = self.pending(endpoints[1 - i][0])
            for label, endpoint, new_ghost in self.endpoint_steps(i, endpoints[i], ghost[i] if ghost else None, len(channels[i]), empty, peer_pending):
                yield label, self._compose(state, i, endpoint, new_ghost, label.sent, None)
        for c in (0, 1):
            channel = channels[c]
            if not channel:
                continue
            receiver = 1 - c
            deliveries = self.deliveries(receiver, endpoints[receiver], ghost[receiver] if ghost else None, channel, len(channels[receiver]))
            for label, rest, endpoint, new_ghost in deliveries:
                yield label, self._compose(state, receiver, endpoint, new_ghost, label.sent, rest)
            for label, new_channel in self.network_steps(c, channel):
                yield label, (endpoints, (new_channel, channels[1]) if c == 0 else (channels[0], new_channel), ghost)
        if self.scenario.timed:
            tick = self._tick(endpoints, channels)
            if tick is not None:
                yield Label("tick"), (tick[0], tick[1], ghost)

    def _compose(self, state, i: int, endpoint, new_ghost, sends, rest):
        """The state after endpoint ``i`` stepped: its new endpoint and ghost, its sends put in its
        outgoing channel, and (for a delivery) the peer's channel without the segment."""
        endpoints, channels, ghost = state
        out = self._put(channels[i], sends) if sends else channels[i]
        other = channels[1 - i] if rest is None else rest
        channels = (out, other) if i == 0 else (other, out)
        endpoints = (endpoint, endpoints[1]) if i == 0 else (endpoints[0], endpoint)
        if ghost and new_ghost is not ghost[i]:
            ghost = (new_ghost, ghost[1]) if i == 0 else (ghost[0], new_ghost)
        return endpoints, channels, ghost

    def pending(self, tcb: tuple) -> bool:
        """Whether ``tcb`` has a retransmission pending (a running timer that is not TIME-WAIT's
        kind): while the peer has one, a "drained" timer (TIME-WAIT) does not fire untimed."""
        return any(run(tcb) for j, run in enumerate(self.compiled.timer_running) if self.untimed[j] != "drained")

    def network_steps(self, c: int, channel: tuple) -> list:
        """What the network may do to channel ``c``: lose or duplicate each distinct segment."""
        scenario = self.scenario
        out = []
        seen = set()
        for pos, seg in enumerate(channel):
            if seg in seen:
                continue
            seen.add(seg)
            rest = channel[:pos] + channel[pos + 1:]
            if scenario.loss:
                out.append((Label("lose", c, segment=seg), rest))
            if scenario.duplication and len(channel) < scenario.capacity:
                out.append((Label("duplicate", c, segment=seg), self._put(channel, (seg,))))
        return out

    def deliveries(self, receiver: int, endpoint: tuple, ghost, channel: tuple, own_length: int) -> list:
        """Each way ``receiver`` may take a segment from ``channel`` (the first one, or with
        reordering any distinct one): (label, the channel without it, new endpoint, new ghost).
        ``own_length`` is the length of the receiver's outgoing channel (for ``Label.dropped``)."""
        return [(label, rest, new_endpoint, new_ghost)
                for seg, rest in self.takeable(channel)
                for label, new_endpoint, new_ghost in self.receptions(receiver, endpoint, ghost, seg, own_length)]

    def takeable(self, channel: tuple) -> list:
        """The segments a receiver may take from ``channel`` (the first one, or with reordering
        each distinct one, in channel order), each with the channel left without it."""
        out = []
        seen = set()
        for pos in range(len(channel)) if self.scenario.reordering else (0,):
            seg = channel[pos]
            if seg not in seen:
                seen.add(seg)
                out.append((seg, channel[:pos] + channel[pos + 1:]))
        return out

    def receptions(self, receiver: int, endpoint: tuple, ghost, seg: tuple, own_length: int) -> list:
        """What ``receiver`` may do on taking ``seg``: (label, new endpoint, new ghost); one way,
        or for a segment with an absolute SEQ one per outcome (``_seen_as``)."""
        return [(label, new_endpoint, self._advance(receiver, ghost, endpoint, new_endpoint, label))
                for label, new_endpoint in self._deliver(receiver, endpoint, seg, own_length)]

    def _advance(self, i: int, ghost, pre: tuple, post: tuple, label: Label):
        if self.observer is None:
            return ghost
        return self.observer.advance(EndpointStep(label, pre, post, ghost))

    def _deliver(self, receiver: int, endpoint: tuple, seg: tuple, own_length: int):
        tcb, user, timers = endpoint
        env = (self.isn(receiver, user[0]), self.scenario.data)
        views = self._seen_as(tcb, seg) if seg[CAUSE] & ABSOLUTE_SEQ else (seg,)
        seen = set()
        for seen_as in views:
            hit = self.step(tcb, SEGMENT, seen_as, env)
            if hit is None:
                raise self._no_rule(tcb, SEGMENT, seen_as)
            if len(views) > 1:
                if hit in seen:
                    continue
                seen.add(hit)
            rule, new_tcb, sends, restarts = hit
            sends = self._tag(sends, user[0], CAUSE_SEGMENT, rule)
            label = Label("segment", receiver, SEGMENT, rule, seen_as, sends, self._overflow(own_length, sends))
            yield label, (new_tcb, user, self._retime(timers, new_tcb, restarts) if self.scenario.timed else timers)

    def _seen_as(self, tcb: tuple, seg: tuple) -> tuple:
        """The segment as the receiver may see it. An absolute SEQ (RFC 9293's <SEQ=0> reset) has
        no relation to the connection's numbers, whatever the ISNs: it is delivered once per
        region of the receiver's sequence space (``seqnum.representatives``; the Z3 obligations
        ``absolute_seq.*`` prove these cover every 32-bit value), so that the explored outcomes
        do not depend on the scenario's concrete ISNs."""
        if not seg[CAUSE] & ABSOLUTE_SEQ:
            return (seg,)
        anchors = [tcb[i] for i in self.compiled.seq_slots]
        return tuple((seg[0], seq) + seg[2:] for seq in representatives(anchors, self.compiled.window, seg[1]))

    def endpoint_steps(self, i: int, endpoint: tuple, ghost, own_length: int, network_empty: bool, peer_pending: bool) -> list:
        """The user calls and timeouts of endpoint ``i``: (label, new endpoint, new ghost). Besides
        the endpoint, they read only the length of its outgoing channel, whether the network is
        empty, and whether the peer has a retransmission pending (``pending``)."""
        tcb, user, timers = endpoint
        opens, sent, closed = user
        scenario = self.scenario
        state_index = tcb[0]
        moves = []
        if state_index == self.initial_index and opens < scenario.incarnations and (
            not scenario.quiet_time or not own_length
        ):
            for event in self.open_events[i]:
                moves.append((event, (opens + 1, False, 0), CAUSE_CALL))
        elif opens:
            if not sent and not closed and scenario.data and self.compiled.handles(state_index, "SEND"):
                moves.append(("SEND", (opens, True, closed), CAUSE_CALL))
            if not closed and self.compiled.handles(state_index, "CLOSE"):
                moves.append(("CLOSE", (opens, sent, CLOSED_BY_CLOSE), CAUSE_CALL))
            if closed != CLOSED_BY_ABORT and scenario.abort and self.compiled.handles(state_index, "ABORT"):
                moves.append(("ABORT", (opens, sent, CLOSED_BY_ABORT), CAUSE_ABORT))
        out = []
        for event, new_user, cause in moves:
            env = (self.isn(i, new_user[0]), scenario.data)
            hit = self.step(tcb, event, None, env)
            if hit is None:
                continue  # the spec's guards refuse this call here: the user gets an error, nothing changes
            rule, new_tcb, sends, restarts = hit
            sends = self._tag(sends, new_user[0], cause, rule)
            label = Label("call", i, event, rule, None, sends, self._overflow(own_length, sends))
            new_endpoint = (new_tcb, new_user, self._retime(timers, new_tcb, restarts) if scenario.timed else timers)
            out.append((label, new_endpoint, self._advance(i, ghost, endpoint, new_endpoint, label)))
        for k, event in enumerate(self.timer_events):
            if not self._timer_due(k, tcb, timers, network_empty, peer_pending):
                continue
            env = (self.isn(i, opens), scenario.data)
            hit = self.step(tcb, event, None, env)
            if hit is None:
                raise self._no_rule(tcb, event, None)
            rule, new_tcb, sends, restarts = hit
            if sends and own_length >= scenario.capacity:
                continue  # the retransmission waits until its queue has room
            sends = self._tag(sends, opens, CAUSE_TIMER, rule)
            label = Label("timer", i, event, rule, None, sends, self._overflow(own_length, sends))
            restarts = restarts + (self.spec.timers[k].name,)
            new_endpoint = (new_tcb, user, self._retime(timers, new_tcb, restarts) if scenario.timed else timers)
            out.append((label, new_endpoint, self._advance(i, ghost, endpoint, new_endpoint, label)))
        return out

    def _timer_due(self, k, tcb, timers, network_empty: bool, peer_pending: bool) -> bool:
        if not self.compiled.timer_running[k](tcb):
            return False
        if self.scenario.timed:
            return timers[k] == 0
        mode = self.untimed[k]
        if mode == "any":
            return True
        if not network_empty:
            return False
        return mode == "quiet" or not peer_pending  # drained: and the peer has no retransmission pending

    def _tag(self, sends: tuple, gen: int, cause: int, rule: int) -> tuple:
        """Segments as they enter the network: with the sender's incarnation, the cause (with the
        ABSOLUTE_SEQ bit where the rule's send has an absolute SEQ), age 0. With
        ``merge_causes``, the cause is left out and only the ABSOLUTE_SEQ bit is kept."""
        if not sends:
            return ()
        absolute = self.compiled.absolute
        if self.merge_causes:
            cause = 0
        return tuple(s + (gen, cause | ABSOLUTE_SEQ if (rule, s[0]) in absolute else cause, 0) for s in sends)

    def _overflow(self, length: int, sends: tuple) -> int:
        return max(0, len(sends) - max(0, self.scenario.capacity - length))

    def _put(self, channel: tuple, segments: tuple) -> tuple:
        room = self.scenario.capacity - len(channel)
        if room <= 0:
            return channel
        channel = channel + segments[:room]  # a full queue drops the rest
        return tuple(sorted(channel)) if self.scenario.reordering else channel

    # ------------------------------------------------------------ time

    def _retime(self, timers: tuple, tcb: tuple, restarts: tuple) -> tuple:
        out = []
        for k, timer in enumerate(self.spec.timers):
            if not self.compiled.timer_running[k](tcb):
                out.append(-1)
            elif timers[k] < 0 or timer.name in restarts:
                out.append(self.durations[k])
            else:
                out.append(timers[k])
        return tuple(out)

    def _tick(self, endpoints, channels):
        if any(self.timer_due(ep) for ep in endpoints):
            return None  # a due timer fires before time passes
        if not any(self.counting(ep) for ep in endpoints) and not channels[0] and not channels[1]:
            return None
        return tuple(self.tick_endpoint(ep) for ep in endpoints), tuple(self.tick_channel(ch) for ch in channels)

    @staticmethod
    def timer_due(endpoint: tuple) -> bool:
        """Timed mode: a timer of the endpoint has run down (it fires before time passes)."""
        return 0 in endpoint[2]

    @staticmethod
    def counting(endpoint: tuple) -> bool:
        """Timed mode: a timer of the endpoint is running down."""
        return any(countdown > 0 for countdown in endpoint[2])

    @staticmethod
    def tick_endpoint(endpoint: tuple) -> tuple:
        tcb, user, timers = endpoint
        return tcb, user, tuple(c - 1 if c > 0 else c for c in timers)

    def tick_channel(self, channel: tuple) -> tuple:
        """The channel one tick later: every segment a tick older, those that reach MSL gone."""
        msl = self.scenario.msl
        aged = tuple(seg[:AGE] + (seg[AGE] + 1,) for seg in channel if seg[AGE] + 1 < msl)
        return tuple(sorted(aged)) if self.scenario.reordering else aged

    # ------------------------------------------------------------ views

    def endpoint_name(self, i: int) -> str:
        return ENDPOINTS[i]

    def state_name(self, tcb: tuple) -> str:
        return self.spec.states[tcb[0]]

    def variables(self, tcb: tuple) -> dict:
        return {v.name: tcb[k + 1] for k, v in enumerate(self.spec.variables)}
