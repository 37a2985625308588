"""The declarations of a spec, validated: ``[[variable]]``, ``[constants]``, ``[options]``,
``[definitions]`` and ``[[timer]]``.

Every name is checked against its pattern (``names``), every number against its range, every
free text for printable characters; each error is a ``SpecError`` at the line of the key.
"""

from __future__ import annotations

from dataclasses import dataclass

from tcpmodel.base.errors import InputError, SpecError, did_you_mean
from tcpmodel.base.seqnum import HALF, MASK
from tcpmodel.language import expressions as ex
from tcpmodel.language.names import check_name, check_text
from tcpmodel.language.specfile import RawSpec, TomlTable

VARIABLE_TYPES = (ex.SEQ, ex.INT, ex.BOOL)
VARIABLE_KEYS = ("name", "type", "init", "rfc", "doc", "before", "after")
TIMER_KEYS = ("name", "rfc", "running", "duration", "untimed", "doc", "before", "after")
OPTION_KEYS = ("default", "rfc", "doc")
UNTIMED_MODES = ("any", "quiet", "drained")
TIMING = ("MSL", "RTO")
# The scenario's range of MSL and RTO (``system.scenario.validate`` reads it from here): a timer's
# duration is checked for each of them when the spec loads.
TIMING_RANGE = range(1, 17)
MAX_DURATION = 1024  # ticks
MAX_DURATION_TERMS = 64  # a duration is evaluated for each MSL and RTO when the spec loads
MAX_DECLARED = 256  # states, variables, timers, constants, definitions, options: each at most this many


@dataclass(frozen=True)
class Variable:
    name: str
    type: str
    init: int
    rfc: str = ""


@dataclass(frozen=True)
class Timer:
    name: str
    rfc: str
    running: ex.Node
    duration: ex.Node
    untimed: str
    where: str


@dataclass(frozen=True)
class Option:
    name: str
    default: bool
    rfc: str
    doc: str


def text(value: object, where: str, what: str, rule: str = "") -> str:
    if not isinstance(value, str):
        raise SpecError(f"{what} must be a string, not {type(value).__name__} {value!r}"[:200], where=where, rule=rule)
    return value


def _count(items: object, what: str, where: str) -> None:
    if isinstance(items, (list, dict)) and len(items) > MAX_DECLARED:
        raise SpecError(f"a spec has at most {MAX_DECLARED} {what}, not {len(items)}", where=where)


def variables(raw: RawSpec) -> tuple[Variable, ...]:
    out: list[Variable] = []
    seen: set[str] = set()
    _count(raw.variables, "variables", raw.variables[0][1] if raw.variables else str(raw.path))
    for table, where, keys in raw.variables:
        for key in table:
            if key not in VARIABLE_KEYS:
                raise SpecError(f'unknown key "{key}" in a [[variable]]{did_you_mean(key, VARIABLE_KEYS)}', where=keys.get(key, where))
        if "name" not in table:
            raise SpecError("a [[variable]] needs a name", where=where)
        name = check_name("variable", table["name"], keys.get("name", where), field="name")
        if name in seen:
            raise SpecError(f'variable "{name}" is declared twice', where=keys.get("name", where))
        seen.add(name)
        type_ = table.get("type", ex.SEQ)
        if type_ not in VARIABLE_TYPES:
            raise SpecError(f'unknown type {type_!r}{did_you_mean(str(type_), VARIABLE_TYPES)}; types are {", ".join(VARIABLE_TYPES)}'[:300],
                            where=keys.get("type", where), field="type")
        init = table.get("init", False if type_ == ex.BOOL else 0)
        at = keys.get("init", where)
        if type_ == ex.BOOL:
            if not isinstance(init, bool):
                raise SpecError(f"init of a bool variable is true or false, not {init!r}"[:200], where=at, field="init")
        elif not isinstance(init, int) or isinstance(init, bool):
            raise SpecError(f"init of a {type_} variable is a whole number, not {init!r}"[:200], where=at, field="init")
        elif type_ == ex.SEQ and not 0 <= init <= MASK:
            raise SpecError(f"init of a seq variable is a 32-bit number, 0 to {MASK}, not {init}", where=at, field="init")
        elif type_ == ex.INT and not -HALF <= init < HALF:
            raise SpecError(f"init of an int variable is from {-HALF} to {HALF - 1}, not {init}", where=at, field="init")
        rfc = check_text(table.get("rfc", ""), "rfc", keys.get("rfc", where), field="rfc")
        check_text(table.get("doc", ""), "doc", keys.get("doc", where), field="doc")
        out.append(Variable(name, type_, int(init), rfc))
    return tuple(out)


def constants(raw: RawSpec) -> dict[str, int]:
    out: dict[str, int] = {}
    _count(raw.tables["constants"], "constants", raw.table_where["constants"])
    for name, value in raw.tables["constants"].items():
        at = raw.key_where["constants"].get(name, raw.table_where["constants"])
        check_name("constant", name, at)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < HALF:
            raise SpecError(f"constant {name} must be a whole number from 0 to {HALF - 1}, not {value!r}"[:200], where=at)
        out[name] = value
    return out


def options(raw: RawSpec) -> dict[str, Option]:
    out: dict[str, Option] = {}
    _count(raw.tables["options"], "options", raw.table_where["options"])
    for name, value in raw.tables["options"].items():
        at = raw.key_where["options"].get(name, raw.table_where["options"])
        check_name("option", name, at)
        if not isinstance(value, dict):
            raise SpecError(f"option {name} must be a table {{ default = false, rfc = \"...\", doc = \"...\" }}", where=at)
        for key in value:
            if key not in OPTION_KEYS:
                raise SpecError(f'unknown key "{key}" of option {name}{did_you_mean(str(key), OPTION_KEYS)}', where=at)
        default = value.get("default", False)
        if not isinstance(default, bool):
            raise SpecError(f"the default of option {name} is true or false, not {default!r}"[:200], where=at)
        out[name] = Option(name, default, check_text(value.get("rfc", ""), f"the rfc of option {name}", at),
                           check_text(value.get("doc", ""), f"the doc of option {name}", at))
    return out


def definitions(raw: RawSpec, scope: ex.Scope) -> dict[str, ex.Node]:
    out: dict[str, ex.Node] = {}
    _count(raw.tables["definitions"], "definitions", raw.table_where["definitions"])
    for name, source in raw.tables["definitions"].items():
        at = raw.key_where["definitions"].get(name, raw.table_where["definitions"])
        check_name("definition", name, at)
        if name in scope.symbols or name in scope.states:
            raise SpecError(f'definition "{name}" hides a name the spec already has', where=at)
        try:
            node = ex.parse(text(source, at, f"definition {name}"), scope)
        except InputError as exc:
            raise SpecError(f"definition {name}: {exc.message}", where=at) from None
        scope.add(name, node.type, "def", node)
        out[name] = node
    return out


def expression(table: TomlTable, key: str, scope: ex.Scope, type_: str, keys: dict[str, str], where: str, rule: str,
               allowed: tuple[str, ...] | None = None, primes: bool = False, default: str | None = None) -> ex.Node:
    source = table.get(key, default)
    at = keys.get(key, where)
    if source is None:
        raise SpecError(f'"{key}" is missing', where=where, rule=rule, field=key)
    try:
        node = ex.parse(text(source, at, key, rule), scope, expect=type_, allow_primes=primes)
    except InputError as exc:
        raise SpecError(exc.message, where=at, rule=rule, field=key) from None
    if allowed is not None:
        for n, _ in sorted(ex.names_in(node)):
            kind = scope.symbols[n].kind
            if kind not in allowed:
                raise SpecError(f'"{n}" cannot be used here ({kind} names are not available in {key})', where=at, rule=rule, field=key)
    return node


def timers(raw: RawSpec, scope: ex.Scope, states: tuple[str, ...], constants: dict[str, int]) -> tuple[Timer, ...]:
    out: list[Timer] = []
    seen: set[str] = set()
    _count(raw.timers, "timers", raw.timers[0][1] if raw.timers else str(raw.path))
    timing_scope = ex.Scope(states=states)
    for n in TIMING:
        timing_scope.add(n, ex.INT, "env")
    for c, s in scope.symbols.items():
        if s.kind == "const":
            timing_scope.add(c, ex.INT, "const")
    for table, where, keys in raw.timers:
        if "name" not in table:
            raise SpecError("a [[timer]] needs a name", where=where)
        name = check_name("timer", table["name"], keys.get("name", where), field="name")
        for key in table:
            if key not in TIMER_KEYS:
                raise SpecError(f'unknown key "{key}"{did_you_mean(key, TIMER_KEYS)}', where=keys.get(key, where), rule=name)
        if name in seen:
            raise SpecError(f'timer "{name}" is declared twice', where=keys.get("name", where))
        seen.add(name)
        running = expression(table, "running", scope, ex.BOOL, keys, where, name, allowed=("var", "const", "def"))
        duration = expression(table, "duration", timing_scope, ex.INT, keys, where, name)
        if ex.expanded_size(duration)[0] > MAX_DURATION_TERMS:
            raise SpecError(f"a duration has at most {MAX_DURATION_TERMS} terms", where=keys.get("duration", where), rule=name, field="duration")
        _check_duration(duration, constants, keys.get("duration", where), name)
        untimed = table.get("untimed", "any")
        if untimed not in UNTIMED_MODES:
            raise SpecError(f'untimed must be one of {", ".join(UNTIMED_MODES)}, not {untimed!r}'[:200], where=keys.get("untimed", where),
                            rule=name, field="untimed")
        rfc = check_text(table.get("rfc", ""), "rfc", keys.get("rfc", where), rule=name, field="rfc")
        check_text(table.get("doc", ""), "doc", keys.get("doc", where), rule=name, field="doc")
        out.append(Timer(name, rfc, running, duration, untimed, where))
    return tuple(out)


def _check_duration(duration: ex.Node, constants: dict[str, int], where: str, timer: str) -> None:
    """A duration is from 1 to MAX_DURATION ticks for every MSL and RTO a scenario may have."""
    for msl in TIMING_RANGE:
        for rto in TIMING_RANGE:
            value = ex.evaluate(duration, {**constants, "MSL": msl, "RTO": rto})
            if not 1 <= value <= MAX_DURATION:
                raise SpecError(f"the duration is {value} ticks when MSL = {msl} and RTO = {rto}; a timer runs from 1 to {MAX_DURATION} ticks",
                                where=where, rule=timer, field="duration")
