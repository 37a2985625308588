"""Reading spec files: TOML with the line of every key, and ``extends`` for variant specs.

``tomllib`` gives no positions, so ``LineIndex`` scans the text once for table headers and keys;
an error about ``when`` of the third ``[[rule]]`` can then name its line.

A variant names the spec it changes with ``extends`` in its ``[spec]`` table and then
- replaces fields of a rule or timer by giving a ``[[rule]]`` / ``[[timer]]`` with the same name
  (only the fields it gives change; a rule may also move with ``before``/``after``),
- adds rules (placed with ``before = "name"`` or ``after = "name"``; appended otherwise),
- removes rules listed in ``[variant] remove``,
- overrides keys of ``[spec]``, ``[constants]``, ``[definitions]``, ``[options]``,
  ``[isn]``, ``[scenario]`` and ``[roles]``.

Bounds: a spec file is read only if it is a regular file of at most ``MAX_SPEC_BYTES`` (a FIFO,
a device such as ``/dev/zero`` or a folder is refused before anything is read), and a chain of
``extends`` is at most ``MAX_EXTENDS`` deep.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tcpmodel.base.errors import InputError, SpecError, did_you_mean
from tcpmodel.base.files import read_regular

MAX_SPEC_BYTES = 1 << 20  # 1 MiB: the reference spec has 25 kB (a spec of 1 MiB loads and compiles in some seconds)
MAX_EXTENDS = 16  # specs in one chain of extends, the spec itself included

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"]+)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r'^\s*("[^"]*"|[A-Za-z0-9_\-.]+)\s*=')

# A TOML table as tomllib reads it: its values are whatever the file holds, checked where they are read.
TomlTable = dict[str, Any]
# A [[rule]], [[timer]] or [[variable]] table, its "file:line" and {key: "file:line"}.
LocatedTable = tuple[TomlTable, str, dict[str, str]]


@dataclass
class LineIndex:
    """Line numbers of table headers and keys: (table, item index or None, key) -> line."""

    lines: dict[tuple[str, int | None, str | None], int] = field(default_factory=dict)

    @classmethod
    def scan(cls, text: str) -> LineIndex:
        index = cls()
        counts: dict[str, int] = {}
        current: tuple[str, int | None] = ("", None)
        depth = 0
        for number, line in enumerate(text.splitlines(), 1):
            if depth == 0:
                header = _HEADER.match(line)
                if header:
                    name = header.group(2).strip('"')
                    if header.group(1) == "[[":
                        counts[name] = counts.get(name, -1) + 1
                        current = (name, counts[name])
                    else:
                        current = (name, None)
                    index.lines[(current[0], current[1], None)] = number
                    continue
                key = _KEY.match(line)
                if key:
                    index.lines.setdefault((current[0], current[1], key.group(1).strip('"')), number)
            depth = max(0, depth + _bracket_balance(line))
        return index

    def line(self, table: str, item: int | None = None, key: str | None = None) -> int | None:
        return self.lines.get((table, item, key)) or self.lines.get((table, item, None)) or self.lines.get(("", None, table))


def _bracket_balance(line: str) -> int:
    """Net count of [ and { outside strings and comments on a key's line (multi-line arrays)."""
    balance, quote = 0, ""
    for ch in line:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        elif ch in "[{":
            balance += 1
        elif ch in "]}":
            balance -= 1
    return balance if not _HEADER.match(line) else 0


@dataclass
class Located:
    """A table read from a file, with where it came from."""

    data: TomlTable
    path: Path
    line: int | None

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line else str(self.path)

    def where_key(self, key: str, index_of: dict[str, int]) -> str:
        line = index_of.get(key, self.line)
        return f"{self.path}:{line}" if line else str(self.path)


@dataclass
class RawSpec:
    """The merged tables of a spec and its bases, every rule and timer with its location."""

    path: Path
    tables: dict[str, TomlTable]
    table_where: dict[str, str]
    key_where: dict[str, dict[str, str]]  # table -> key -> "file:line", for the merged tables
    rules: list[LocatedTable]
    timers: list[LocatedTable]
    variables: list[LocatedTable]


MERGED_TABLES = ("spec", "constants", "definitions", "options", "isn", "scenario", "roles", "variant")
LIST_TABLES = ("rule", "timer", "variable")
KNOWN_TOP = set(MERGED_TABLES) | set(LIST_TABLES)


def read_spec_file(path: str | Path, _seen: tuple[Path, ...] = ()) -> RawSpec:
    path = Path(path)
    try:
        data_bytes = read_regular(path, MAX_SPEC_BYTES, "spec file")
    except InputError as exc:
        raise SpecError(exc.message, where=exc.where) from None
    try:
        text = data_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data_bytes.count(b"\n", 0, exc.start) + 1
        raise SpecError(f"the spec file is not UTF-8 text: {exc.reason} at byte {exc.start}", where=f"{path}:{line}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(path, exc, text) from None
    except RecursionError:
        raise SpecError("TOML nested too deeply", where=f"{path}:1") from None
    index = LineIndex.scan(text)

    def at(table: str, item: int | None = None, key: str | None = None) -> str:
        return f"{path}:{index.line(table, item, key) or 1}"

    for key in data:
        if key not in KNOWN_TOP:
            raise SpecError(f'unknown table "{key}"{did_you_mean(key, KNOWN_TOP)}', where=at(key))
    for name in LIST_TABLES:
        if name in data and not (isinstance(data[name], list) and all(isinstance(t, dict) for t in data[name])):
            raise SpecError(f'"{name}" must be written as [[{name}]] tables', where=at(name))
    for name in MERGED_TABLES:
        if name in data and not isinstance(data[name], dict):
            raise SpecError(f'"{name}" must be a table [{name}]', where=at(name))

    def located(name: str) -> list[LocatedTable]:
        out = []
        for i, table in enumerate(data.get(name, [])):
            keys = {k: at(name, i, k) for k in table}
            out.append((table, at(name, i), keys))
        return out

    own = RawSpec(
        path=path,
        tables={t: dict(data.get(t, {})) for t in MERGED_TABLES},
        table_where={t: at(t) for t in MERGED_TABLES},
        key_where={t: {k: at(t, None, k) for k in data.get(t, {})} for t in MERGED_TABLES},
        rules=located("rule"),
        timers=located("timer"),
        variables=located("variable"),
    )
    base_name = own.tables["spec"].get("extends")
    extends_at = own.key_where["spec"].get("extends", own.table_where["spec"])
    if base_name is None:
        if own.tables["variant"]:
            raise SpecError("[variant] needs [spec] extends = \"base.toml\"", where=own.table_where["variant"])
        return own
    if not isinstance(base_name, str) or not base_name:
        raise SpecError("extends must be a file name", where=extends_at)
    if len(_seen) + 1 >= MAX_EXTENDS:
        raise SpecError(f"extends chains at most {MAX_EXTENDS} specs, this one is deeper", where=extends_at)
    try:
        base_path = (path.parent / base_name).resolve()
        exists = base_path.exists()
    except (OSError, ValueError, RuntimeError) as exc:
        raise SpecError(f"extends names {base_name[:60]!r}, which cannot be opened ({exc})", where=extends_at) from None
    if base_path in _seen or base_path == path.resolve():
        raise SpecError(f"extends forms a cycle through {base_name[:60]!r}", where=extends_at)
    if not exists:
        raise SpecError(f"extends names {base_name[:60]!r}, which does not exist", where=extends_at)
    return _overlay(read_spec_file(base_path, _seen + (path.resolve(),)), own)


def _syntax_error(path: Path, exc: tomllib.TOMLDecodeError, text: str) -> SpecError:
    message = str(exc)
    m = re.search(r"\(at line (\d+), column (\d+)\)", message)
    if m:
        message = message[: m.start()].strip()
        return SpecError(f"TOML syntax error: {message} (column {m.group(2)})", where=f"{path}:{m.group(1)}")
    m = re.search(r"\s*\(at end of document\)", message)
    if m:
        message = message[: m.start()].strip() + " (at the end of the file)"
    return SpecError(f"TOML syntax error: {message}", where=f"{path}:{text.count(chr(10)) + (0 if text.endswith(chr(10)) else 1) or 1}")


def _overlay(base: RawSpec, own: RawSpec) -> RawSpec:
    tables, key_where = {}, {}
    for name in MERGED_TABLES:
        merged = dict(base.tables.get(name, {}))
        merged.update(own.tables.get(name, {}))
        tables[name] = merged
        key_where[name] = {**base.key_where.get(name, {}), **own.key_where.get(name, {})}
    tables["spec"].pop("extends", None)
    key_where["spec"].pop("extends", None)
    rules = list(base.rules)
    remove = own.tables["variant"].get("remove", [])
    remove_at = own.key_where["variant"].get("remove", own.table_where["variant"])
    for key in own.tables["variant"]:
        if key != "remove":
            raise SpecError(f'unknown key "{key}" in [variant] (it has only remove)', where=own.key_where["variant"][key])
    if not isinstance(remove, list) or not all(isinstance(r, str) for r in remove):
        raise SpecError("[variant] remove must be a list of rule names", where=remove_at)
    names = [r[0].get("name") for r in rules]
    for name in remove:
        if name not in names:
            known = [n for n in names if isinstance(n, str)]
            raise SpecError(f'[variant] removes rule "{name}", which the base spec does not have{did_you_mean(name, known)}',
                            where=remove_at)
        rules = [r for r in rules if r[0].get("name") != name]
        names = [r[0].get("name") for r in rules]
    for table, where, keys in own.rules:
        _place(rules, table, where, keys, "rule")
    timers = list(base.timers)
    for table, where, keys in own.timers:
        _place(timers, table, where, keys, "timer")
    variables = list(base.variables)
    for table, where, keys in own.variables:
        _place(variables, table, where, keys, "variable")
    return RawSpec(
        path=own.path,
        tables=tables,
        table_where={**base.table_where, **{k: v for k, v in own.table_where.items() if own.tables.get(k)}},
        key_where=key_where,
        rules=rules,
        timers=timers,
        variables=variables,
    )


def _place(items: list[LocatedTable], table: TomlTable, where: str, keys: dict[str, str], kind: str) -> None:
    """Merge a variant's [[rule]] (or timer) into the base list: replace fields, or insert."""
    name = table.get("name")
    names = [t.get("name") for t, _, _ in items]
    before, after = table.get("before"), table.get("after")
    if name in names:
        i = names.index(name)
        old_table, _, old_keys = items.pop(i)
        merged = {**old_table, **table}
        merged_keys = {**old_keys, **keys}
        if before is None and after is None:
            items.insert(i, (merged, where, merged_keys))
            return
        table, keys = merged, merged_keys
        names = [t.get("name") for t, _, _ in items]
    anchor = before if before is not None else after
    if anchor is None:
        items.append((table, where, keys))
        return
    if anchor not in names:
        raise SpecError(
            f'{"before" if before is not None else "after"} names {kind} "{anchor}", which does not exist'
            f'{did_you_mean(str(anchor), [n for n in names if isinstance(n, str)])}',
            where=keys.get("before" if before is not None else "after", where),
        )
    i = names.index(anchor) + (0 if before is not None else 1)
    items.insert(i, (table, where, keys))
