"""Errors a user can cause. The command line turns each into one line and exit code 2.

Their text quotes the input (a name, a value, a file name), which may hold anything: ``printable``
escapes what a terminal would act on (escape sequences, carriage returns, newlines, other control
and format characters), so that an error is always one line that shows exactly what was given.
"""

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
        return printable(f"{prefix}: {self.message}" if prefix else self.message)


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` with every character a terminal would not simply show (``str.isprintable``: the
    C0 and C1 controls, ESC among them, DEL, line and paragraph separators, bidirectional and other
    format characters) written as a Python escape (``\\x1b``, ``\\n``, ``\\u202e``)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _ESCAPES.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
                   if ord(c) < 0x10000 else f"\\U{ord(c):08x}") for c in text)


class SpecError(InputError):
    """An error in a spec file."""


def did_you_mean(word: str, choices: Collection[str]) -> str:
    """A ' (did you mean "X"?)' suffix naming the nearest choice, or ''."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    if not close:
        close = [c for c in sorted(choices) if c.upper() == word.upper()]
    return f' (did you mean "{close[0]}"?)' if close else ""
