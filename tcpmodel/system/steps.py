"""The steps of the composed system: their labels, and one step of one endpoint, decoded.

A step of the composed system is a ``Label`` between two system states (``composed``). Of an
endpoint's step (a user call, a timeout, a segment delivered to it) the checks read the same
things: who stepped, by which rule, its endpoint (TCB, user, timers) and ghost fields before and
after, the segment it received, those it sent, and the other endpoint as it stood. An
``EndpointStep`` holds them, and ``decode_step`` is the one function that takes them out of a
(label, state, next state) triple. The properties (``checking.properties``: the observer's ghost
fields and the checker), the report's ledger (``claims.ledger``), the counterexamples' step
records and the observed traces (``observe``) all read ``EndpointStep``s. Network steps and
ticks are no endpoint's step: ``decode_step`` gives None for them.

``System`` itself makes an ``EndpointStep`` without ``new_ghost`` for the observer to compute the
ghost fields after the step (``System._advance``); the packed explorer makes one per memoised
row, without the peer (``checking.packed``), and never one per transition.

``StepWatcher`` is the interface of whatever watches the endpoint steps of an exploration (the
``watch`` of ``checking.check.check``): ``on_step(k, step, j)`` for the step from state k to
state j.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

ENDPOINT_KINDS = ("call", "segment", "timer")  # the Label kinds of an endpoint's steps

# A state of the composed system: ((endpoint A, endpoint B), (channel A->B, channel B->A), ghost),
# nested tuples of numbers (``composed`` describes each part).
SystemState = tuple[Any, ...]


class Label(NamedTuple):
    """What a transition did. ``actor`` is an endpoint index (or the channel index for network
    steps); ``rule`` indexes ``Spec.rules``; ``segment`` is the segment received, lost or duplicated."""

    kind: str  # call, segment, timer, lose, duplicate, tick
    actor: int = -1
    event: str = ""
    rule: int = -1
    segment: tuple | None = None
    sent: tuple = ()  # the segments the step sent, with their ghost fields
    dropped: int = 0  # how many of them (the last ones) a full queue dropped


class EndpointStep(NamedTuple):
    """A step of endpoint ``label.actor``. Endpoints are ``(tcb, user, timers)`` (``composed``)."""

    label: Label
    pre: tuple  # the endpoint before the step
    post: tuple  # and after it
    ghost: tuple | None = None  # its ghost fields before (None in a system without an observer)
    new_ghost: tuple | None = None  # and after (None while the observer computes them)
    peer: tuple | None = None  # the other endpoint, which the step does not change (None in a memoised row)
    peer_ghost: tuple | None = None  # the other endpoint's ghost fields

    @property
    def actor(self) -> int:
        return self.label.actor

    @property
    def kind(self) -> str:
        return self.label.kind

    @property
    def event(self) -> str:
        return self.label.event

    @property
    def rule(self) -> int:
        return self.label.rule

    @property
    def received(self) -> tuple | None:
        """The segment delivered to the endpoint (as it saw it), or None for a call or timeout."""
        return self.label.segment

    @property
    def sent(self) -> tuple:
        return self.label.sent

    @property
    def dropped(self) -> int:
        """How many of the segments sent (the last ones) a full queue dropped."""
        return self.label.dropped

    @property
    def pre_tcb(self) -> tuple:
        return self.pre[0]

    @property
    def post_tcb(self) -> tuple:
        return self.post[0]


def decode_step(label: Label, state: SystemState, nxt: SystemState) -> EndpointStep | None:
    """The endpoint step ``label`` takes from system state ``state`` to ``nxt``; None for a
    network step or a tick."""
    if label.kind not in ENDPOINT_KINDS:
        return None
    i = label.actor
    endpoints, _, ghost = state
    if ghost:
        return EndpointStep(label, endpoints[i], nxt[0][i], ghost[i], nxt[2][i], endpoints[1 - i], ghost[1 - i])
    return EndpointStep(label, endpoints[i], nxt[0][i], None, None, endpoints[1 - i], None)


class StepWatcher(Protocol):
    """Watches the endpoint steps of an exploration, as the properties do."""

    def on_step(self, k: int, step: EndpointStep, j: int) -> None:
        """``step`` leads from state number ``k`` to state number ``j``."""
