"""Metamorphic tests: a spec's meaning does not depend on how it spells its names or orders its tables.

Renaming every state, timer and variable consistently (and declaring the new names in
``[roles]``), reversing the order of the states, variables and timers, and reordering the
rules wherever two rules never compete for one state and event, must give the same state and
transition counts, the same verdict for every property and counterexamples of the same length.
Before the properties read roles, renaming TIME-WAIT (state or timer) changed the counts (the
observer's ghost fields are part of every state) or made properties vacuous, without a word.
"""

import re
import tomllib

import pytest

from tcpmodel.checking.check import check
from tcpmodel.language.roles import BY_KEY, ROLES
from tcpmodel.language.spec import load_spec
from tcpmodel.system.scenario import make_scenario
from tests.conftest import REFERENCE, VARIANTS
from tests.test_fuzz_loader import toml_document

EXPRESSION_FIELDS = ("when", "running", "duration")
SEND_FIELDS = ("seq", "ack", "data", "when")


class Renaming:
    """New names for the reference's states, timers and variables: none is an RFC spelling."""

    def __init__(self, doc: dict):
        self.states = {s: f"Q{i}-{s[:3]}" for i, s in enumerate(doc["spec"]["states"])}
        self.timers = {t["name"]: f"T{i}-CLOCK" for i, t in enumerate(doc["timer"])}
        self.variables = {v["name"]: f"V{i}.{v['name'].replace('.', '_').lower()}" for i, v in enumerate(doc["variable"])}
        # longest first, so that a name is never replaced inside a longer one
        self._state_re = _alternation(self.states, r"[A-Za-z0-9_.\-]")
        self._variable_re = _alternation(self.variables, r"[A-Za-z0-9_.]")

    def expression(self, text: str) -> str:
        text = self._state_re.sub(lambda m: self.states[m.group(0)], text)
        return self._variable_re.sub(lambda m: self.variables[m.group(0)], text)

    def effect(self, text: str) -> str:
        m = re.fullmatch(r"\s*restart\((.*)\)\s*", text)
        return f"restart({self.timers[m.group(1).strip()]})" if m else self.expression(text)

    def event(self, event: str) -> str:
        timer = event.removesuffix(" TIMEOUT")
        return f"{self.timers[timer]} TIMEOUT" if timer != event else event

    def roles(self) -> dict:
        names = {"state": self.states, "timer": self.timers, "variable": self.variables}
        return {r.key: names[r.kind][r.default] for r in ROLES}


def _alternation(names, continues: str) -> re.Pattern:
    words = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<!{continues})(?:{words})(?!{continues})")


def renamed(doc: dict, r: Renaming, reorder: bool) -> dict:
    doc = tomllib.loads(toml_document(doc))  # a deep copy
    spec = doc.get("spec", {})
    for key in ("states", "no_tcb"):
        if key in spec:
            spec[key] = [r.states[s] for s in spec[key]]
    if "initial" in spec:
        spec["initial"] = r.states[spec["initial"]]
    for v in doc.get("variable", []):
        v["name"] = r.variables[v["name"]]
    doc["constants"] = dict(doc.get("constants", {}))
    doc["definitions"] = {k: r.expression(v) for k, v in doc.get("definitions", {}).items()}
    for t in doc.get("timer", []):
        t["name"] = r.timers[t["name"]]
        for key in EXPRESSION_FIELDS:
            if key in t:
                t[key] = r.expression(t[key])
    for rule in doc.get("rule", []):
        if "from" in rule:
            rule["from"] = [r.states[s] for s in rule["from"]] if isinstance(rule["from"], list) else r.states[rule["from"]]
        if "to" in rule:
            rule["to"] = r.states[rule["to"]]
        if "on" in rule:
            rule["on"] = r.event(rule["on"])
        if "when" in rule:
            rule["when"] = r.expression(rule["when"])
        if "do" in rule:
            rule["do"] = [r.effect(e) for e in ([rule["do"]] if isinstance(rule["do"], str) else rule["do"])]
        if "send" in rule:
            sends = [rule["send"]] if isinstance(rule["send"], dict) else rule["send"]
            rule["send"] = [{k: (r.expression(v) if k in SEND_FIELDS else v) for k, v in s.items()} for s in sends]
    if "roles" in doc:
        names = {"state": r.states, "timer": r.timers, "variable": r.variables}
        doc["roles"] = {k: names[BY_KEY[k].kind].get(v, v) if isinstance(v, str) else v for k, v in doc["roles"].items()}
    if reorder:
        if "states" in spec:
            spec["states"] = spec["states"][::-1]  # the initial state is named, so the order is free
        for table in ("variable", "timer"):
            if table in doc:
                doc[table] = doc[table][::-1]
        if "rule" in doc:
            doc["rule"] = reordered_rules(doc["rule"])
    return doc


def reordered_rules(rules: list) -> list:
    """The rules as far from their order as can be without changing which fires: each rule after
    every earlier one it competes with (a common state and event), otherwise latest first."""
    def pairs(rule):
        states = rule["from"] if isinstance(rule["from"], list) else [rule["from"]]
        return {(s, rule["on"]) for s in states}

    placed, out, left = set(), [], list(range(len(rules)))
    while left:
        for i in reversed(left):
            if all(j in placed for j in range(i) if pairs(rules[j]) & pairs(rules[i])):
                break
        placed.add(i)
        left.remove(i)
        out.append(rules[i])
    assert out != rules
    return out


def outcome(spec, **settings):
    result = check(spec, make_scenario(spec, settings))
    verdicts = [(p.prop.name, p.holds, len(p.counterexample.steps) if p.counterexample else None) for p in result.properties]
    return result.exploration.count, result.exploration.transitions, verdicts


SCENARIOS = {
    "small": dict(incarnations=1, loss=False, duplication=False, reordering=False),
    "timed": dict(incarnations=1, duplication=False, reordering=False, timed=True, capacity=1),
    "rfc5961": dict(incarnations=1, loss=False, duplication=False, enable=["rfc5961"]),
}


@pytest.fixture(scope="module")
def reference_doc():
    return tomllib.loads(REFERENCE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def reference():
    return load_spec(REFERENCE)


@pytest.fixture(scope="module")
def reference_outcomes(reference):
    return {}


def reference_outcome(reference, outcomes, scenario):
    if scenario not in outcomes:
        outcomes[scenario] = outcome(reference, **SCENARIOS[scenario])
    return outcomes[scenario]


def write(tmp_path, name, doc):
    path = tmp_path / name
    path.write_text(toml_document(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize("reorder", [False, True], ids=["renamed", "renamed-and-reordered"])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_renaming_and_reordering_change_no_count_and_no_verdict(reference, reference_outcomes, reference_doc, scenario, reorder, tmp_path):
    r = Renaming(reference_doc)
    doc = renamed(reference_doc, r, reorder)
    doc["roles"] = r.roles()
    spec = load_spec(write(tmp_path, "renamed.toml", doc))
    assert not set(spec.states) & set(reference.states) and not {t.name for t in spec.timers} & {t.name for t in reference.timers}
    if reorder:
        assert [x.name for x in spec.rules] != [x.name for x in reference.rules]
    assert outcome(spec, **SCENARIOS[scenario]) == reference_outcome(reference, reference_outcomes, scenario)


def test_the_comparison_sees_a_role_that_changes_the_system(reference, reference_outcomes, reference_doc, tmp_path):
    """The check above can fail: declaring the renamed TIME-WAIT timer absent (so that its expiry
    no longer counts as an orderly end in the observer's ghost fields) changes the state count."""
    r = Renaming(reference_doc)
    doc = renamed(reference_doc, r, reorder=False)
    doc["roles"] = {**r.roles(), "time_wait_timer": False}
    spec = load_spec(write(tmp_path, "renamed.toml", doc))
    changed, same = outcome(spec, **SCENARIOS["small"]), reference_outcome(reference, reference_outcomes, "small")
    assert changed[:2] != same[:2]


def test_a_renamed_variant_keeps_its_counterexample(reference_doc, tmp_path):
    r = Renaming(reference_doc)
    base = renamed(reference_doc, r, reorder=True)
    base["roles"] = r.roles()
    write(tmp_path, "rfc9293.toml", base)
    variant_doc = tomllib.loads((VARIANTS / "no_time_wait.toml").read_text(encoding="utf-8"))
    variant_doc["spec"]["extends"] = "rfc9293.toml"
    renamed_variant = load_spec(write(tmp_path, "no_time_wait.toml", renamed(variant_doc, r, reorder=False)))
    original = load_spec(VARIANTS / "no_time_wait.toml")
    counts, verdicts = outcome(renamed_variant), outcome(original)
    assert counts == verdicts
    assert ("graceful_close", False, 13) in verdicts[2]


def test_a_rename_without_roles_is_refused_not_silent(reference_doc, tmp_path, capsys):
    from tcpmodel.cli.main import main

    doc = renamed(reference_doc, Renaming(reference_doc), reorder=False)
    del doc["roles"]
    path = write(tmp_path, "renamed.toml", doc)
    assert main(["check", str(path), "--incarnations", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the TCP properties need the role closed, RFC 9293's CLOSED state" in err
    assert f"{path}:1:" in err  # the [spec] table, where [roles] is to be written (first line of the written file)


def test_a_renamed_spec_proves_and_generates_the_same(reference, reference_doc, tmp_path):
    """The prover's scripted runs and the vectors read the spec through its roles as well: the
    same obligations with the same outcomes, and packetdrill scripts that differ only in their
    comments (which name the spec's states)."""
    from tcpmodel.proofs.prove import prove
    from tcpmodel.vectors.generation import generate
    from tcpmodel.vectors.packetdrill import exportable, script

    r = Renaming(reference_doc)
    doc = renamed(reference_doc, r, reorder=True)
    doc["roles"] = r.roles()
    spec = load_spec(write(tmp_path, "renamed.toml", doc))

    back = {new: old for names in (r.states, r.timers, r.variables) for old, new in names.items()}
    back_re = _alternation(back, r"[A-Za-z0-9_.\-]")

    def statuses(s):
        return sorted((back_re.sub(lambda m: back[m.group(0)], x.name), x.status) for x in prove(s))

    ours, theirs = statuses(spec), statuses(reference)
    assert len(ours) == 225 and ours == theirs

    def bodies(s):
        suite = generate(s)
        return sorted("\n".join(line for line in script(v, 4).splitlines() if not line.startswith("//"))
                      for v in suite.vectors if exportable(v))

    ours, theirs = bodies(spec), bodies(reference)
    assert len(ours) == 875 and ours == theirs
