"""The compiled system as another model checker's input: what the Promela and TLA+ writers share.

``tcpmodel export`` writes the system that ``tcpmodel check`` explores (system/composed.py: two endpoints,
two bounded channels, the users, the timers; checking/properties.py: the observer's ghost fields) as a
model for Spin (``promela``) or TLC (``tla``) whose reachable state space is the same, state for
state and transition for transition, with reductions off. Two uses: an independent model
checker cross-checks the explorer's counts, and the benchmark runs the same model in each tool.

The writers translate; they do not decide. Every fact about the system they need (which rules
apply to a state and event, in what order; the ISN of each incarnation; timer durations and
untimed modes; which sends carry an absolute SEQ; the offsets at which an absolute SEQ is
delivered) is read here from the same objects the explorer uses, so an export cannot drift from
the system it describes.
"""

from __future__ import annotations

from dataclasses import dataclass

from tcpmodel.base.errors import printable
from tcpmodel.base.seqnum import relative_offsets, signed
from tcpmodel.checking.properties import OPENING, ORDERLY_ENDS, Observer, role_state, role_states
from tcpmodel.language.spec import SEGMENT, USER_CALLS, Rule, Spec
from tcpmodel.system.composed import (  # noqa: F401 - re-exported for the writers
    ABSOLUTE_SEQ,
    CAUSE_ABORT,
    CAUSE_CALL,
    CAUSE_SEGMENT,
    CAUSE_TIMER,
    CLOSED_BY_ABORT,
    CLOSED_BY_CLOSE,
    System,
)
from tcpmodel.system.scenario import Scenario


@dataclass(frozen=True)
class SystemFacts:
    """The system of ``spec`` under ``scenario``, as the export writers need it."""

    spec: Spec
    scenario: Scenario
    system: System

    @property
    def states(self) -> tuple[str, ...]:
        return self.spec.states

    def state(self, name: str) -> int:
        return self.spec.states.index(name)

    @property
    def initial(self) -> int:
        return self.system.initial_index

    @property
    def no_tcb(self) -> tuple[int, ...]:
        return tuple(sorted(self.system.no_tcb))

    def rules(self, state: str, event: str) -> list[tuple[int, Rule]]:
        """The active rules for ``state`` and ``event``, in the order the explorer tries them."""
        active = self.system.compiled.active
        return [(i, r) for i, r in enumerate(self.spec.rules) if active[i] and r.event == event and state in r.states]

    def handled(self, event: str) -> list[str]:
        """The states in which some rule handles ``event``."""
        return [s for s in self.spec.states if self.rules(s, event)]

    def open_events(self, i: int) -> tuple[str, ...]:
        return self.system.open_events[i]

    def other_calls(self) -> tuple[str, ...]:
        """The calls a user makes after opening, in the order the explorer tries them."""
        calls = ["SEND"] if self.scenario.data else []
        calls.append("CLOSE")
        if self.scenario.abort:
            calls.append("ABORT")
        return tuple(c for c in calls if c in USER_CALLS)

    def isn(self, i: int, opens: int) -> int:
        return self.system.isn(i, opens)

    @property
    def timer_events(self) -> tuple[str, ...]:
        return self.system.timer_events

    @property
    def durations(self) -> tuple[int, ...]:
        return self.system.durations

    @property
    def untimed(self) -> tuple[str, ...]:
        return self.system.untimed

    @property
    def time_wait_timer(self) -> int:
        """The index of the timer whose expiry the observer counts as an orderly end (role
        ``time_wait_timer``), or -1."""
        name = self.spec.roles.get("time_wait_timer")
        return [t.name for t in self.spec.timers].index(name) if name is not None else -1

    def absolute(self, rule_index: int, flags: int) -> bool:
        return (rule_index, flags) in self.system.compiled.absolute

    @property
    def has_absolute(self) -> bool:
        return bool(self.system.compiled.absolute)

    @property
    def window(self) -> int:
        return self.system.compiled.window

    @property
    def offsets(self) -> tuple[int, ...]:
        return relative_offsets(self.window)

    @property
    def seq_variables(self) -> tuple[str, ...]:
        """The anchors of an absolute SEQ's representatives, in ``CompiledSpec.seq_slots`` order."""
        names = [v.name for v in self.spec.variables]
        return tuple(names[k - 1] for k in self.system.compiled.seq_slots)

    @property
    def max_sends(self) -> int:
        return max((len(r.sends) for r in self.spec.rules), default=0)

    @property
    def segment_rules(self) -> bool:
        return any(r.event == SEGMENT for r in self.spec.rules)

    # The states the observer reads, through the spec's roles (language.roles), as the observer does.

    @property
    def orderly_ends(self) -> tuple[int, ...]:
        return tuple(sorted(role_states(self.spec, ORDERLY_ENDS)))

    @property
    def opening(self) -> tuple[int, ...]:
        return tuple(sorted(role_states(self.spec, OPENING)))

    @property
    def close_wait(self) -> int:
        return role_state(self.spec, "close_wait")

    @property
    def established(self) -> int:
        return role_state(self.spec, "established")

    def variable(self, role: str) -> str:
        """The spec's name of the variable in ``role`` (iss, irs, snd_nxt, rcv_nxt: the observer's)."""
        return self.spec.roles[role]


def system_facts(spec: Spec, scenario: Scenario) -> SystemFacts:
    Observer(spec)  # the observer's ghost fields are part of every state: a spec error if it lacks a role they need
    return SystemFacts(spec, scenario, System(spec, scenario))


def comment(text: str) -> str:
    """``text`` made safe inside a comment of Promela (``/* */``) or TLA+ (``(* *)``, ``\\*``):
    names are validated identifiers, but titles and the command line are free text, so any
    control character is escaped (a newline would end a line comment) and no comment delimiter
    survives whole (``*/`` becomes ``* /``)."""
    text = printable(text)
    for delimiter, broken in (("*/", "* /"), ("/*", "/ *"), ("*)", "* )"), ("(*", "( *")):
        while delimiter in text:
            text = text.replace(delimiter, broken)
    return text


def int32(value: int) -> int:
    """A 32-bit pattern as the signed number a 32-bit machine integer holds."""
    return signed(value)
