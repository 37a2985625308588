"""The spec: states, variables, timers and rules, validated and type-checked.

``load_spec(path)`` reads a spec file (and the spec it extends), checks every name and every
expression, and returns a ``Spec``. Any problem is a ``SpecError`` naming the file, the line,
the rule and the field, with the near miss suggested.

Rules for one (state, event) are tried in file order; the first whose guard holds fires. This
mirrors RFC 9293 §3.10.7, which checks a segment step by step ("first check sequence number,
second check the RST bit, ...").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tcpmodel.base.errors import InputError, SpecError, did_you_mean
from tcpmodel.base.flags import ACK, SPEC_FLAG_BITS
from tcpmodel.language import expressions as ex
from tcpmodel.language.specfile import RawSpec, TomlTable, read_spec_file

USER_CALLS = ("LISTEN", "CONNECT", "SEND", "CLOSE", "ABORT")
SEGMENT = "SEGMENT"
SEGMENT_FIELDS = {"SEG.SEQ": ex.SEQ, "SEG.ACK": ex.SEQ, "SEG.LEN": ex.INT, "SEG.DATA": ex.INT, "SEG.WND": ex.INT}
ENVIRONMENT = {"ISN": ex.SEQ, "DATA": ex.INT}
TIMING = ("MSL", "RTO")
VARIABLE_TYPES = (ex.SEQ, ex.INT, ex.BOOL)
RULE_KEYS = ("name", "rfc", "from", "on", "when", "do", "send", "to", "option", "doc", "before", "after")
SEND_KEYS = ("flags", "seq", "ack", "data", "when")
TIMER_KEYS = ("name", "rfc", "running", "duration", "untimed", "doc", "before", "after")
UNTIMED_MODES = ("any", "quiet", "drained")


@dataclass(frozen=True)
class Variable:
    name: str
    type: str
    init: int
    rfc: str = ""


@dataclass(frozen=True)
class Send:
    flags: int
    seq: ex.Node
    ack: ex.Node | None
    data: ex.Node | None
    when: ex.Node | None
    absolute_seq: bool = False  # SEQ reads no sequence number: not moved by a shift (e.g. <SEQ=0>)


@dataclass(frozen=True)
class Rule:
    name: str
    rfc: str
    states: tuple[str, ...]
    event: str
    when: ex.Node
    effects: tuple[tuple[str, ex.Node], ...]
    restarts: tuple[str, ...]
    sends: tuple[Send, ...]
    to: str | None
    option: str | None  # "name" or "!name": active only when the option is on / off
    where: str
    doc: str = ""

    def active(self, options: frozenset[str]) -> bool:
        if self.option is None:
            return True
        if self.option.startswith("!"):
            return self.option[1:] not in options
        return self.option in options


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


@dataclass
class Spec:
    name: str
    title: str
    path: Path
    states: tuple[str, ...]
    initial: str
    no_tcb: tuple[str, ...]
    variables: tuple[Variable, ...]
    constants: dict[str, int]
    options: dict[str, Option]
    timers: tuple[Timer, ...]
    rules: tuple[Rule, ...]
    isn: TomlTable
    scenario: TomlTable
    scenario_where: str
    definitions: dict[str, ex.Node] = field(default_factory=dict)

    @property
    def events(self) -> tuple[str, ...]:
        return USER_CALLS + (SEGMENT,) + tuple(f"{t.name} TIMEOUT" for t in self.timers)

    def rule(self, name: str) -> Rule:
        return next(r for r in self.rules if r.name == name)


def unset_variables(spec: Spec, options: frozenset[str] = frozenset()) -> dict[str, frozenset[str]]:
    """For each state, the variables that may still hold the ``init`` value a state without a TCB
    gave them, because no rule on some path from there has assigned them (e.g. RCV.NXT in
    SYN-SENT). Such a value is no sequence number of the connection, so a shift does not move it."""
    names = frozenset(v.name for v in spec.variables)
    unset = {s: names if s in spec.no_tcb else frozenset() for s in spec.states}
    changed = True
    while changed:
        changed = False
        for rule in (r for r in spec.rules if r.active(options)):
            assigned = {name for name, _ in rule.effects}
            for state in rule.states:
                target = rule.to or state
                carried = unset[state] - assigned
                if target not in spec.no_tcb and not carried <= unset[target]:
                    unset[target] |= carried
                    changed = True
    return unset


def load_spec(path: str | Path) -> Spec:
    raw = read_spec_file(path)
    return _build(raw)


def _text(value: object, where: str, what: str, rule: str = "") -> str:
    if not isinstance(value, str):
        raise SpecError(f"{what} must be a string, not {type(value).__name__} {value!r}", where=where, rule=rule)
    return value


def _build(raw: RawSpec) -> Spec:
    spec_table = raw.tables["spec"]
    where = raw.table_where["spec"]
    for key in spec_table:
        if key not in ("name", "title", "rfc", "states", "initial", "no_tcb", "doc"):
            raise SpecError(f'unknown key "{key}" in [spec]{did_you_mean(key, ["name", "title", "states", "initial", "no_tcb", "doc"])}', where=where)
    name = _text(spec_table.get("name", raw.path.stem), where, "[spec] name")
    states = spec_table.get("states")
    if not isinstance(states, list) or not states or not all(isinstance(s, str) and s for s in states):
        raise SpecError("[spec] states must be a non-empty list of state names", where=where)
    if len(set(states)) != len(states):
        dup = next(s for s in states if states.count(s) > 1)
        raise SpecError(f'state "{dup}" is listed twice', where=where)
    states = tuple(states)
    initial = _state(spec_table.get("initial", states[0]), states, where, "", "initial")
    no_tcb_list = spec_table.get("no_tcb", [initial])
    if not isinstance(no_tcb_list, list):
        raise SpecError("[spec] no_tcb must be a list of state names", where=where)
    no_tcb = tuple(_state(s, states, where, "", "no_tcb") for s in no_tcb_list)

    variables = _variables(raw)
    constants = _constants(raw)
    options = _options(raw)
    scope = ex.Scope(states=states)
    for v in variables:
        scope.add(v.name, v.type, "var")
    scope.add("STATE", ex.STATE, "var")
    for c in constants:
        scope.add(c, ex.INT, "const")
    for n, t in ENVIRONMENT.items():
        scope.add(n, t, "env")
    for n, t in SEGMENT_FIELDS.items():
        scope.add(n, t, "seg")
    for f in SPEC_FLAG_BITS:
        scope.add(f, ex.BOOL, "flag")
    definitions = _definitions(raw, scope)
    timers = _timers(raw, scope, states)
    for timer in timers:
        scope.add(timer.name, "timer", "timer")
    rules = _rules(raw, scope, states, options, timers, no_tcb)
    isn = raw.tables["isn"]
    return Spec(
        name=name,
        title=str(spec_table.get("title", name)),
        path=raw.path,
        states=states,
        initial=initial,
        no_tcb=no_tcb,
        variables=variables,
        constants=constants,
        options=options,
        timers=timers,
        rules=rules,
        isn=dict(isn),
        scenario=dict(raw.tables["scenario"]),
        scenario_where=raw.table_where["scenario"],
        definitions=definitions,
    )


def _state(value: object, states: tuple[str, ...], where: str, rule: str, field_name: str) -> str:
    if not isinstance(value, str):
        raise SpecError(f"a state name must be a string, not {value!r}", where=where, rule=rule, field=field_name)
    if value not in states:
        raise SpecError(f'unknown state "{value}"{did_you_mean(value, states)}', where=where, rule=rule, field=field_name)
    return value


def _variables(raw: RawSpec) -> tuple[Variable, ...]:
    out: list[Variable] = []
    seen: set[str] = set()
    for table, where, keys in raw.variables:
        name = table.get("name")
        if not isinstance(name, str) or not name:
            raise SpecError("a [[variable]] needs a name", where=where)
        if name in seen:
            raise SpecError(f'variable "{name}" is declared twice', where=where)
        seen.add(name)
        type_ = table.get("type", ex.SEQ)
        if type_ not in VARIABLE_TYPES:
            raise SpecError(f'unknown type "{type_}"{did_you_mean(str(type_), VARIABLE_TYPES)}', where=keys.get("type", where), field="type")
        init = table.get("init", False if type_ == ex.BOOL else 0)
        if (type_ == ex.BOOL and not isinstance(init, bool)) or (type_ != ex.BOOL and (not isinstance(init, int) or isinstance(init, bool))):
            raise SpecError(f"init of a {type_} variable cannot be {init!r}", where=keys.get("init", where), field="init")
        out.append(Variable(name, type_, int(init), str(table.get("rfc", ""))))
    return tuple(out)


def _constants(raw: RawSpec) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, value in raw.tables["constants"].items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SpecError(f"constant {name} must be a non-negative integer, not {value!r}", where=raw.table_where["constants"])
        out[name] = value
    return out


def _options(raw: RawSpec) -> dict[str, Option]:
    out: dict[str, Option] = {}
    for name, value in raw.tables["options"].items():
        if not isinstance(value, dict):
            raise SpecError(f"option {name} must be a table {{ default = false, rfc = \"...\", doc = \"...\" }}", where=raw.table_where["options"])
        out[name] = Option(name, bool(value.get("default", False)), str(value.get("rfc", "")), str(value.get("doc", "")))
    return out


def _definitions(raw: RawSpec, scope: ex.Scope) -> dict[str, ex.Node]:
    out: dict[str, ex.Node] = {}
    where = raw.table_where["definitions"]
    for name, text in raw.tables["definitions"].items():
        if name in scope.symbols:
            raise SpecError(f'definition "{name}" hides a name the spec already has', where=where)
        try:
            node = ex.parse(_text(text, where, f"definition {name}"), scope)
        except InputError as exc:
            raise SpecError(f"definition {name}: {exc.message}", where=where) from None
        scope.add(name, node.type, "def", node)
        out[name] = node
    return out


def _timers(raw: RawSpec, scope: ex.Scope, states: tuple[str, ...]) -> tuple[Timer, ...]:
    out: list[Timer] = []
    seen: set[str] = set()
    timing_scope = ex.Scope(states=states)
    for n in TIMING:
        timing_scope.add(n, ex.INT, "env")
    for c, s in scope.symbols.items():
        if s.kind == "const":
            timing_scope.add(c, ex.INT, "const")
    for table, where, keys in raw.timers:
        name = table.get("name")
        if not isinstance(name, str) or not name:
            raise SpecError("a [[timer]] needs a name", where=where)
        for key in table:
            if key not in TIMER_KEYS:
                raise SpecError(f'unknown key "{key}"{did_you_mean(key, TIMER_KEYS)}', where=keys.get(key, where), rule=name)
        if name in seen:
            raise SpecError(f'timer "{name}" is declared twice', where=where)
        seen.add(name)
        running = _expr(table, "running", scope, ex.BOOL, keys, where, name, allowed=("var", "const", "def"))
        duration = _expr(table, "duration", timing_scope, ex.INT, keys, where, name)
        untimed = table.get("untimed", "any")
        if untimed not in UNTIMED_MODES:
            raise SpecError(f'untimed must be one of {", ".join(UNTIMED_MODES)}, not {untimed!r}', where=keys.get("untimed", where), rule=name, field="untimed")
        out.append(Timer(name, str(table.get("rfc", "")), running, duration, untimed, where))
    return tuple(out)


def _expr(table: TomlTable, key: str, scope: ex.Scope, type_: str, keys: dict[str, str], where: str, rule: str,
          allowed: tuple[str, ...] | None = None, primes: bool = False, default: str | None = None) -> ex.Node:
    text = table.get(key, default)
    at = keys.get(key, where)
    if text is None:
        raise SpecError(f'"{key}" is missing', where=where, rule=rule, field=key)
    try:
        node = ex.parse(_text(text, at, key, rule), scope, expect=type_, allow_primes=primes)
    except InputError as exc:
        raise SpecError(exc.message, where=at, rule=rule, field=key) from None
    if allowed is not None:
        for n, _ in sorted(ex.names_in(node)):
            kind = scope.symbols[n].kind
            if kind not in allowed:
                raise SpecError(f'"{n}" cannot be used here ({kind} names are not available in {key})', where=at, rule=rule, field=key)
    return node


def _rules(raw: RawSpec, scope: ex.Scope, states: tuple[str, ...], options: dict[str, Option], timers: tuple[Timer, ...],
           no_tcb: tuple[str, ...]) -> tuple[Rule, ...]:
    out: list[Rule] = []
    seen: dict[str, str] = {}
    events = USER_CALLS + (SEGMENT,) + tuple(f"{t.name} TIMEOUT" for t in timers)
    variables = {n for n, s in scope.symbols.items() if s.kind == "var" and n != "STATE"}
    for table, where, keys in raw.rules:
        name = table.get("name")
        if not isinstance(name, str) or not name:
            raise SpecError('a [[rule]] needs a name = "..."', where=where)
        if name in seen:
            raise SpecError(f'rule name "{name}" is used twice (first at {seen[name]})', where=keys.get("name", where), rule=name, field="name")
        seen[name] = keys.get("name", where)
        for key in table:
            if key not in RULE_KEYS:
                raise SpecError(f'unknown key "{key}"{did_you_mean(key, RULE_KEYS)}', where=keys.get(key, where), rule=name)
        rfc = table.get("rfc")
        if not isinstance(rfc, str) or not rfc.strip():
            raise SpecError("every rule cites the RFC section it implements (rfc = \"RFC 9293 §...\")", where=where, rule=name, field="rfc")
        from_ = table.get("from")
        from_list = from_ if isinstance(from_, list) else [from_]
        if from_ is None or not from_list:
            raise SpecError('"from" is missing', where=where, rule=name, field="from")
        rule_states = tuple(_state(s, states, keys.get("from", where), name, "from") for s in from_list)
        event = table.get("on")
        if event not in events:
            raise SpecError(f'unknown event "{event}"{did_you_mean(str(event), events)}; events are {", ".join(events)}',
                            where=keys.get("on", where), rule=name, field="on")
        allowed = ("var", "const", "def", "env") + (("seg", "flag") if event == SEGMENT else ())
        when = _expr(table, "when", scope, ex.BOOL, keys, where, name, allowed=allowed, default="true")
        effects, restarts = _effects(table, scope, keys, where, name, allowed, variables, timers)
        sends = _sends(table, scope, keys, where, name, allowed)
        to = table.get("to")
        if to is not None:
            to = _state(to, states, keys.get("to", where), name, "to")
        option = table.get("option")
        if option is not None and (not isinstance(option, str) or option.lstrip("!") not in options):
            raise SpecError(f'unknown option {option!r}{did_you_mean(str(option).lstrip("!"), options)}',
                            where=keys.get("option", where), rule=name, field="option")
        out.append(Rule(name, rfc.strip(), rule_states, event, when, effects, restarts, sends, to, option, keys.get("name", where), str(table.get("doc", ""))))
    return tuple(out)


def _listed(table: TomlTable, key: str, single: type, keys: dict[str, str], where: str, rule: str, example: str) -> tuple[list[Any], str]:
    """A rule field that holds one ``single`` value or a list of them, and its location."""
    value = table.get(key, [])
    at = keys.get(key, where)
    if isinstance(value, single):
        value = [value]
    if not isinstance(value, list):
        raise SpecError(f'"{key}" must be a list like {example}', where=at, rule=rule, field=key)
    return value, at


def _effects(table: TomlTable, scope: ex.Scope, keys: dict[str, str], where: str, rule: str, allowed: tuple[str, ...], variables: set[str],
             timers: tuple[Timer, ...]) -> tuple[tuple[tuple[str, ex.Node], ...], tuple[str, ...]]:
    do, at = _listed(table, "do", str, keys, where, rule, '["SND.NXT = SND.NXT + 1"]')
    effects: list[tuple[str, ex.Node]] = []
    restarts: list[str] = []
    assigned: set[str] = set()
    timer_names = [t.name for t in timers]
    for item in do:
        text = _text(item, at, "an effect", rule).strip()
        if text.startswith("restart(") and text.endswith(")"):
            timer = text[len("restart("):-1].strip()
            if timer not in timer_names:
                raise SpecError(f'unknown timer "{timer}"{did_you_mean(timer, timer_names)}', where=at, rule=rule, field="do")
            restarts.append(timer)
            continue
        target, eq, rhs = text.partition("=")
        target = target.strip()
        if not eq or rhs.startswith("=") or not target:
            raise SpecError(f'an effect is "VARIABLE = expression" or "restart(TIMER)", not {text!r}', where=at, rule=rule, field="do")
        if target not in variables:
            raise SpecError(f'"{target}" is not an endpoint variable{did_you_mean(target, variables)}', where=at, rule=rule, field="do")
        if target in assigned:
            raise SpecError(f'"{target}" is assigned twice (effects are simultaneous)', where=at, rule=rule, field="do")
        assigned.add(target)
        node = _expr({"do": rhs.strip()}, "do", scope, scope.symbols[target].type, {"do": at}, where, rule, allowed=allowed)
        effects.append((target, node))
    return tuple(effects), tuple(restarts)


def _sends(table: TomlTable, scope: ex.Scope, keys: dict[str, str], where: str, rule: str, allowed: tuple[str, ...]) -> tuple[Send, ...]:
    sends, at = _listed(table, "send", dict, keys, where, rule, '[{ flags = "ACK", seq = "SND.NXT", ack = "RCV.NXT" }]')
    out: list[Send] = []
    for seg in sends:
        if not isinstance(seg, dict):
            raise SpecError(f"a segment to send must be a table, not {seg!r}", where=at, rule=rule, field="send")
        for key in seg:
            if key not in SEND_KEYS:
                raise SpecError(f'unknown segment field "{key}"{did_you_mean(key, SEND_KEYS)}', where=at, rule=rule, field="send")
        flags_text = _text(seg.get("flags", ""), at, "flags", rule)
        names = [f.strip() for f in flags_text.replace("+", ",").split(",") if f.strip()]
        if not names:
            raise SpecError('a segment needs flags, e.g. flags = "SYN,ACK"', where=at, rule=rule, field="send")
        flags = 0
        for f in names:
            if f not in SPEC_FLAG_BITS:
                raise SpecError(f'unknown flag "{f}"{did_you_mean(f, SPEC_FLAG_BITS)}', where=at, rule=rule, field="send")
            flags |= SPEC_FLAG_BITS[f]
        keys_here = dict.fromkeys(seg, at)
        seq = _expr(seg, "seq", scope, ex.SEQ, keys_here, at, rule, allowed=allowed, primes=True)
        ack = None
        if flags & ACK:
            ack = _expr(seg, "ack", scope, ex.SEQ, keys_here, at, rule, allowed=allowed, primes=True)
        elif "ack" in seg:
            raise SpecError("a segment without the ACK flag carries no ack field", where=at, rule=rule, field="send")
        data = _expr(seg, "data", scope, ex.INT, keys_here, at, rule, allowed=allowed, primes=True) if "data" in seg else None
        when = _expr(seg, "when", scope, ex.BOOL, keys_here, at, rule, allowed=allowed, primes=True) if "when" in seg else None
        absolute = not any(n in scope.symbols and scope.symbols[n].type == ex.SEQ for n, _ in ex.names_in(seq))
        if any(o.flags == flags and o.absolute_seq != absolute for o in out):
            raise SpecError(f"two segments with flags {flags_text} where one has an absolute SEQ and the other not: "
                            "give them different flags or split the rule", where=at, rule=rule, field="send")
        out.append(Send(flags, seq, ack, data, when, absolute))
    return tuple(out)
