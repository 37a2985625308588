"""Errors a user can cause. The command line turns each into one line and exit code 2.

A message may quote the input (a name, a file name, an expression), so it is made printable on
the way out: control characters (a newline, an escape code that would retitle or clear the
terminal), format characters (bidirectional overrides) and lone surrogates are written as
``\\xNN`` / ``\\uNNNN``, never raw.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass

_UNPRINTABLE_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on (or could not show) escaped."""
    return _SAFE.sub(_escape, text) if not _SAFE_ONLY.fullmatch(text) else text


def _escape(m: re.Match[str]) -> str:
    out = []
    for ch in m.group(0):
        if unicodedata.category(ch) not in _UNPRINTABLE_CATEGORIES:
            out.append(ch)
        elif ch in _SHORT:
            out.append(_SHORT[ch])
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out)


_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}  # as Python writes them
_SAFE_ONLY = re.compile(r"[ -~]*")  # plain printable ASCII: the common case, left alone at once
_SAFE = re.compile(r"[^ -~]+")


def has_unprintable(text: str) -> bool:
    return printable(text) != text


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


class SpecError(InputError):
    """An error in a spec file."""


def did_you_mean(word: str, choices: Collection[str]) -> str:
    """A ' (did you mean "X"?)' suffix naming the nearest choice, or ''."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    if not close:
        close = [c for c in sorted(choices) if c.upper() == word.upper()]
    return f' (did you mean "{close[0]}"?)' if close else ""
