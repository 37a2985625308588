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

from tcpmodel.base.errors import SpecError, did_you_mean
from tcpmodel.base.flags import ACK, SPEC_FLAG_BITS
from tcpmodel.base.seqnum import HALF, MASK
from tcpmodel.language import declarations
from tcpmodel.language import expressions as ex
from tcpmodel.language import roles as role_table
from tcpmodel.language.declarations import (  # noqa: F401 - re-exported: the spec's parts are imported from here
    TIMER_KEYS,
    TIMING,
    UNTIMED_MODES,
    VARIABLE_TYPES,
    Option,
    Timer,
    Variable,
)
from tcpmodel.language.declarations import expression as _expr
from tcpmodel.language.declarations import text as _text
from tcpmodel.language.names import check_text, name_problem, sanitised_stem
from tcpmodel.language.roles import Roles
from tcpmodel.language.specfile import RawSpec, TomlTable, read_spec_file

USER_CALLS = ("LISTEN", "CONNECT", "SEND", "CLOSE", "ABORT")
SEGMENT = "SEGMENT"
SEGMENT_FIELDS = {"SEG.SEQ": ex.SEQ, "SEG.ACK": ex.SEQ, "SEG.LEN": ex.INT, "SEG.DATA": ex.INT, "SEG.WND": ex.INT}
ENVIRONMENT = {"ISN": ex.SEQ, "DATA": ex.INT}
RULE_KEYS = ("name", "rfc", "from", "on", "when", "do", "send", "to", "option", "doc", "before", "after")
SEND_KEYS = ("flags", "seq", "ack", "data", "when")
SPEC_KEYS = ("name", "title", "rfc", "states", "initial", "no_tcb", "doc")
MAX_SENDS = 8  # segments one rule sends


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
    roles: Roles = field(default_factory=Roles)
    scenario_key_where: dict[str, str] = field(default_factory=dict)  # [scenario] and [isn] key -> "file:line"
    where: str = ""  # "file:line" of [spec]
    states_where: str = ""  # "file:line" of [spec] states: where an error about a state without a rule is placed

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


def _build(raw: RawSpec) -> Spec:
    spec_table = raw.tables["spec"]
    where = raw.table_where["spec"]
    key_at = raw.key_where["spec"]
    for key in spec_table:
        if key not in SPEC_KEYS:
            raise SpecError(f'unknown key "{key}" in [spec]{did_you_mean(key, SPEC_KEYS)}', where=key_at.get(key, where))
    if "name" in spec_table:
        problem = name_problem("spec", spec_table["name"])
        if problem:
            raise SpecError(f"[spec] name: {problem} (it becomes file names)", where=key_at.get("name", where))
        name = spec_table["name"]
    else:
        name = sanitised_stem(raw.path.stem)
    title = check_text(spec_table.get("title", name), "[spec] title", key_at.get("title", where), limit=200)
    for key in ("rfc", "doc"):
        check_text(spec_table.get(key, ""), f"[spec] {key}", key_at.get(key, where))
    states_at = key_at.get("states", where)
    states = spec_table.get("states")
    if not isinstance(states, list) or not states:
        raise SpecError("[spec] states must be a non-empty list of state names", where=states_at)
    if len(states) > declarations.MAX_DECLARED:
        raise SpecError(f"[spec] states: a spec has at most {declarations.MAX_DECLARED} states, not {len(states)}", where=states_at)
    for state in states:
        problem = name_problem("state", state)
        if problem:
            raise SpecError(f"[spec] states: {problem}", where=states_at)
    if len(set(states)) != len(states):
        dup = next(s for s in states if states.count(s) > 1)
        raise SpecError(f'state "{dup}" is listed twice', where=states_at)
    states = tuple(states)
    initial = _state(spec_table.get("initial", states[0]), states, key_at.get("initial", where), "", "initial")
    no_tcb_list = spec_table.get("no_tcb", [initial])
    if not isinstance(no_tcb_list, list):
        raise SpecError("[spec] no_tcb must be a list of state names", where=key_at.get("no_tcb", where))
    no_tcb = tuple(_state(s, states, key_at.get("no_tcb", where), "", "no_tcb") for s in no_tcb_list)

    variables = declarations.variables(raw)
    constants = declarations.constants(raw)
    options = declarations.options(raw)
    scope = ex.Scope(states=states)
    for n, t, kind in _BUILTINS:
        scope.add(n, t, kind)
    for v, (_, at, keys) in zip(variables, raw.variables, strict=True):
        _unique(v.name, "variable", scope, keys.get("name", at))
        scope.add(v.name, v.type, "var")
    for c in constants:
        _unique(c, "constant", scope, raw.key_where["constants"].get(c, raw.table_where["constants"]))
        scope.add(c, ex.INT, "const")
    for state in states:
        if state in scope.symbols:
            raise SpecError(f'[spec] states: "{state}" is the name of a {_KINDS[scope.symbols[state].kind]}; '
                            "expressions could not tell them apart", where=states_at)
    definitions = declarations.definitions(raw, scope)
    timers = declarations.timers(raw, scope, states, constants)
    for timer in timers:
        scope.add(timer.name, "timer", "timer")
    rules = _rules(raw, scope, states, options, timers, no_tcb)
    _isn(raw)
    roles_at = raw.table_where["roles"] if raw.tables["roles"] else where  # where a missing role is to be declared
    roles = role_table.resolve(raw.tables["roles"], raw.key_where["roles"], roles_at,
                               {"state": states, "timer": tuple(t.name for t in timers), "variable": tuple(v.name for v in variables)})
    return Spec(
        name=name,
        title=title,
        path=raw.path,
        states=states,
        initial=initial,
        no_tcb=no_tcb,
        variables=variables,
        constants=constants,
        options=options,
        timers=timers,
        rules=rules,
        isn=dict(raw.tables["isn"]),
        scenario=dict(raw.tables["scenario"]),
        scenario_where=raw.table_where["scenario"],
        definitions=definitions,
        roles=roles,
        scenario_key_where={"[isn]": raw.table_where["isn"], **raw.key_where["scenario"]},
        where=where,
        states_where=states_at,
    )


def _isn(raw: RawSpec) -> None:
    """[isn]: A's and B's first ISN (32-bit numbers) and the stride of the ISN clock."""
    for key, value in raw.tables["isn"].items():
        at = raw.key_where["isn"].get(key, raw.table_where["isn"])
        if key not in ("A", "B", "stride"):
            raise SpecError(f'unknown key "{key}" in [isn] (it has A, B and stride){did_you_mean(key, ("A", "B", "stride"))}', where=at)
        high = MASK if key != "stride" else HALF - 1
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= high:
            raise SpecError(f"[isn] {key} must be a whole number from 0 to {high}, not {value!r}"[:200], where=at)


_BUILTINS = (("STATE", ex.STATE, "var"), *((n, t, "env") for n, t in ENVIRONMENT.items()),
             *((n, t, "seg") for n, t in SEGMENT_FIELDS.items()), *((f, ex.BOOL, "flag") for f in SPEC_FLAG_BITS))
_KINDS = {"var": "variable", "const": "constant", "def": "definition", "env": "built-in name", "seg": "segment field",
          "flag": "flag", "timer": "timer"}


def _unique(name: str, kind: str, scope: ex.Scope, where: str) -> None:
    if name in scope.symbols:
        raise SpecError(f'{kind} "{name}" has the name of a {_KINDS[scope.symbols[name].kind]}; rename it', where=where)


def _state(value: object, states: tuple[str, ...], where: str, rule: str, field_name: str) -> str:
    if not isinstance(value, str):
        raise SpecError(f"a state name must be a string, not {value!r}", where=where, rule=rule, field=field_name)
    if value not in states:
        raise SpecError(f'unknown state "{value}"{did_you_mean(value, states)}', where=where, rule=rule, field=field_name)
    return value


def _rules(raw: RawSpec, scope: ex.Scope, states: tuple[str, ...], options: dict[str, Option], timers: tuple[Timer, ...],
           no_tcb: tuple[str, ...]) -> tuple[Rule, ...]:
    out: list[Rule] = []
    seen: dict[str, str] = {}
    events = USER_CALLS + (SEGMENT,) + tuple(f"{t.name} TIMEOUT" for t in timers)
    variables = {n for n, s in scope.symbols.items() if s.kind == "var" and n != "STATE"}
    for table, where, keys in raw.rules:
        if "name" not in table:
            raise SpecError('a [[rule]] needs a name = "..."', where=where)
        name = table["name"]
        problem = name_problem("rule", name)
        if problem:
            raise SpecError(problem, where=keys.get("name", where), rule=name[:40] if isinstance(name, str) else "", field="name")
        if name in seen:
            raise SpecError(f'rule name "{name}" is used twice (first at {seen[name]})', where=keys.get("name", where), rule=name, field="name")
        seen[name] = keys.get("name", where)
        for key in table:
            if key not in RULE_KEYS:
                raise SpecError(f'unknown key "{key}"{did_you_mean(key, RULE_KEYS)}', where=keys.get(key, where), rule=name)
        rfc = table.get("rfc")
        if not isinstance(rfc, str) or not rfc.strip():
            raise SpecError("every rule cites the RFC section it implements (rfc = \"RFC 9293 §...\")", where=keys.get("rfc", where),
                            rule=name, field="rfc")
        check_text(rfc, "rfc", keys.get("rfc", where), rule=name, field="rfc")
        doc = check_text(table.get("doc", ""), "doc", keys.get("doc", where), rule=name, field="doc")
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
        if option is not None and (not isinstance(option, str) or option.removeprefix("!") not in options):
            raise SpecError(f'unknown option {option!r}{did_you_mean(str(option).removeprefix("!"), options)}; '
                            'an option is "NAME" (the rule is active when it is on) or "!NAME" (when it is off)'[:300],
                            where=keys.get("option", where), rule=name, field="option")
        out.append(Rule(name, rfc.strip(), rule_states, event, when, effects, restarts, sends, to, option, keys.get("name", where), doc))
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
    if len(sends) > MAX_SENDS:
        raise SpecError(f"a rule sends at most {MAX_SENDS} segments, not {len(sends)}", where=at, rule=rule, field="send")
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
