"""What a spec may call things: every name is checked against a strict pattern when the spec loads.

A name reaches generated code (Python, Promela, TLA+), other tools' inputs (packetdrill scripts)
and file names (``SPEC-NAME.pml``, ``active.rule.NAME.pkt``), so none may hold whitespace,
control characters, quotes, slashes, comment delimiters or anything else that could end the
place it is put. The patterns admit the RFC's spellings and nothing that needs escaping:

- states and timers: ``SYN-RECEIVED``, ``TIME-WAIT``, ``RETRANSMISSION``: capital letters and
  digits in words joined by ``-`` or ``_``, starting with a letter;
- variables, constants and definitions: ``SND.UNA``, ``RCV.WND``, ``ACK_TOO_NEW``: letters,
  digits and ``_`` in parts joined by ``.``, each part starting with a letter;
- rules and options: ``closed_connect``, ``rfc5961``: letters, digits and ``_`` in words joined
  by ``-``, starting with a letter;
- the spec's name (it becomes file names): letters, digits, ``_`` and ``-`` in parts joined by
  ``.``, starting with a letter or digit.

Free text (titles, ``rfc`` citations, ``doc``) may hold any printable character but no control
or format characters, and is bounded in length.
"""

from __future__ import annotations

import re

from tcpmodel.base.errors import SpecError

MAX_NAME = 64
MAX_TEXT = 1000

_WORD = r"[A-Z][A-Z0-9]*(?:[-_][A-Z0-9]+)*"
PATTERNS = {
    "state": (re.compile(_WORD), "capital letters and digits in words joined by - or _, starting with a letter (like SYN-RECEIVED)"),
    "timer": (re.compile(_WORD), "capital letters and digits in words joined by - or _, starting with a letter (like TIME-WAIT)"),
    "variable": (re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*"),
                 "letters, digits and _ in parts joined by '.', each starting with a letter (like SND.UNA)"),
    "rule": (re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*"),
             "letters, digits and _ in words joined by -, starting with a letter (like closed_connect)"),
    "spec": (re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*"),
             "letters, digits, _ and - in parts joined by '.', starting with a letter or digit (like rfc9293)"),
}
PATTERNS["constant"] = PATTERNS["definition"] = PATTERNS["variable"]
PATTERNS["option"] = PATTERNS["rule"]

# Words of the expression language: a variable, constant, definition or state by one of these
# names could never be read.
RESERVED = frozenset({"true", "false", "and", "or", "not", "if", "min", "max", "seq_lt", "seq_le", "seq_gt", "seq_ge", "in_window", "restart"})


def name_problem(kind: str, value: object) -> str:
    """Why ``value`` cannot be the name of a ``kind``, or "" when it can."""
    pattern, allowed = PATTERNS[kind]
    if not isinstance(value, str):
        return f"a {kind} name must be a string, not {type(value).__name__}"
    if len(value) > MAX_NAME:
        return f"a {kind} name has at most {MAX_NAME} characters, not {len(value)}"
    if not pattern.fullmatch(value):
        return f"{value!r} cannot be a {kind} name: a {kind} name is {allowed}"
    if value in RESERVED and kind not in ("rule", "option", "spec"):
        return f"{value!r} cannot be a {kind} name: it is a word of the expression language"
    return ""


def check_name(kind: str, value: object, where: str, rule: str = "", field: str = "") -> str:
    """``value`` if it is a valid ``kind`` name, else a SpecError located at ``where``."""
    problem = name_problem(kind, value)
    if problem:
        raise SpecError(problem, where=where, rule=rule, field=field)
    assert isinstance(value, str)
    return value


def check_text(value: object, what: str, where: str, rule: str = "", field: str = "", limit: int = MAX_TEXT) -> str:
    """Free text (a title, a citation, a doc string): printable, at most ``limit`` characters."""
    if not isinstance(value, str):
        raise SpecError(f"{what} must be a string, not {type(value).__name__} {value!r}"[:200], where=where, rule=rule, field=field)
    if len(value) > limit:
        raise SpecError(f"{what} has at most {limit} characters, not {len(value)}", where=where, rule=rule, field=field)
    if not value.isprintable():
        bad = next(c for c in value if not c.isprintable())
        raise SpecError(f"{what} holds the unprintable character {bad!r}: text may hold printable characters only",
                        where=where, rule=rule, field=field)
    return value


def sanitised_stem(stem: str) -> str:
    """A spec name made from a file name (when ``[spec] name`` is not given): every character the
    spec pattern does not allow becomes ``_``."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", stem)[:MAX_NAME]
    name = re.sub(r"\.{2,}", ".", name).strip(".")
    if not name or not name[0].isalnum():
        name = "spec" + ("_" + name if name else "")
    return name if not name_problem("spec", name) else "spec"
