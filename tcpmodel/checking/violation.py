"""Where an exploration breaks a property: one dataclass for every kind of violation.

- ``STATE``: state number ``state`` breaks an invariant, or is a deadlock;
- ``TRANSITION``: the step ``label`` from state ``state`` to state ``next_state`` breaks a step
  property. The packed search finds it as the ``successor``-th transition of ``state``, before
  its label and target are known; ``check`` fills them in (``resolved``);
- ``LASSO``: a run that never ends well: from state ``state``, ``path`` (which starts there)
  leads into a closed region of the graph and ``cycle`` (empty for a dead end) goes round it.

The counterexample (``counterexample.build_counterexample``) is the shortest path to ``state``
followed by the violation's own steps.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tcpmodel.system.steps import Label

STATE, TRANSITION, LASSO = "state", "transition", "lasso"
KINDS = (STATE, TRANSITION, LASSO)


@dataclass(frozen=True)
class Violation:
    kind: str  # one of KINDS
    state: int  # the state found (STATE), the step's source (TRANSITION), the run's start (LASSO)
    label: Label | None = None  # TRANSITION: the step
    next_state: int | None = None  # TRANSITION: its target
    successor: int | None = None  # TRANSITION: the step's position among the successors of ``state``
    path: tuple[int, ...] = ()  # LASSO: states from ``state`` into the closed region
    cycle: tuple[int, ...] = ()  # LASSO: states round the cycle, from the last of ``path`` back to it

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"a violation is one of {', '.join(KINDS)}, not {self.kind!r}")

    def resolved(self, label: Label, next_state: int) -> Violation:
        """This transition with its label and target filled in."""
        return replace(self, label=label, next_state=next_state)
