"""Errors a user can cause. The command line turns each into one line and exit code 2."""

from __future__ import annotations

import difflib
from collections.abc import Collection
from dataclasses import dataclass


@dataclass
class InputError(Exception):
    """Bad input: a spec, a scenario flag, a trace. ``where`` is "file:line" or similar."""

    message: str
    where: str = ""
    rule: str = ""
    field: str = ""

    def __str__(self) -> str:
        parts = [self.where] if self.where else []
        if self.rule:
            parts.append(f"rule {self.rule!r}")
        if self.field:
            parts.append(f"field {self.field!r}")
        prefix = ", ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message


class SpecError(InputError):
    """An error in a spec file."""


def did_you_mean(word: str, choices: Collection[str]) -> str:
    """A ' (did you mean "X"?)' suffix naming the nearest choice, or ''."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    if not close:
        close = [c for c in sorted(choices) if c.upper() == word.upper()]
    return f' (did you mean "{close[0]}"?)' if close else ""
