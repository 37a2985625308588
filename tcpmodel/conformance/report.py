"""What a conformance run says: the text ``tcpmodel conform`` prints, its JSON, the per-stack
Markdown report, and the matrix of every vector on every stack (``reports/conformance/README.md``).

Every FAIL is shown with the finding that explains it (``tcpmodel.conformance.findings``) or marked
UNEXPLAINED; a full run also lists the stack's findings that explained nothing (stale). The JSON
of a run is what the reports are made from: ``--report reports/conformance/<stack>.md`` writes it
beside the report as ``<stack>.json``, the report is rendered from it alone (so that a report can
be checked against its JSON), and the matrix is regenerated from every such file there.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from tcpmodel.base.errors import InputError
from tcpmodel.conformance.findings import KINDS, stale
from tcpmodel.conformance.harness import VERDICTS
from tcpmodel.conformance.outcomes import Outcome
from tcpmodel.oracle.verdicts import ERROR, FAIL, INCONCLUSIVE, PASS, SKIPPED

NOT_PASSING = (FAIL, INCONCLUSIVE, ERROR)


def totals(outcomes: list[Outcome]) -> dict[str, int]:
    return {v: sum(o.verdict == v for o in outcomes) for v in VERDICTS}


def totals_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {v}" for v, n in counts.items() if n or v in (PASS, FAIL, SKIPPED))


def other_totals(outcomes: list[Outcome]) -> dict[str, dict[str, int]]:
    """Per other profile: the totals had the run been judged under it (SKIPPED and ERROR stay)."""
    names = sorted({p for o in outcomes for p in o.others})
    return {p: {v: sum((o.others.get(p, o.verdict)) == v for o in outcomes) for v in VERDICTS} for p in names}


def explanations(outcomes: list[Outcome]) -> dict[str, int]:
    """How the FAILs are explained: a count per finding kind, and "unexplained"."""
    fails = [o for o in outcomes if o.verdict == FAIL]
    counts = {kind: sum(o.finding is not None and o.finding.kind == kind for o in fails) for kind in KINDS}
    counts["unexplained"] = sum(o.finding is None for o in fails)
    return counts


WORDS = {"MUST": "MUST violation", "SHOULD": "SHOULD departure", "MAY": "MAY departure",
         "procedure": "§3.10 procedure departure", "harness": "by the harness",
         "unexplained": "UNEXPLAINED"}


def explanations_line(outcomes: list[Outcome]) -> str:
    return _explanations_line(explanations(outcomes))


def stale_findings(findings, outcomes: list[Outcome]) -> list:
    return stale(findings, [(o.name, o.judged.seen) for o in outcomes if o.verdict == FAIL and o.judged])


# ---------------------------------------------------------------- text and JSON


def conform_text(stack: str, info: dict, profile, outcomes: list[Outcome], seconds: float,
                 findings=(), complete: bool = False, stopped: str = "") -> str:
    """What ``tcpmodel conform`` prints; ``stopped`` says why the run ended before its last vector."""
    width = max([len(o.name) for o in outcomes] + [6])
    lines = [f"stack:    {stack} ({info.get('version', '')}; kernel {info.get('kernel', '')})",
             f"profile:  {profile.name} ({profile.title})", f"{'vector':<{width}}  {'verdict':<12} {'time':>7}"]
    for o in outcomes:
        lines.append(f"{o.name:<{width}}  {o.verdict:<12} {o.seconds:>6.2f}s" + (f"  [{o.finding.name}]" if o.finding else ""))
    for o in outcomes:
        if o.verdict in NOT_PASSING:
            event = f", event {o.judged.event}" if o.judged and o.judged.event is not None else ""
            lines += ["", f"{o.verdict} {o.name} ({o.target}){event}:"]
            if o.judged and o.judged.verdict == FAIL:
                lines += [f"  seen:    {o.judged.seen}", f"  allowed: {'; '.join(o.judged.allowed)}"]
                lines += [f"  by:      {rfc}" for rfc in o.judged.rfc]
                explained = f"{o.finding.name} ({o.finding.kind}): {o.finding.sentence()}" if o.finding else "UNEXPLAINED (no finding of this stack matches)"
                lines.append(f"  finding: {explained}")
            else:
                lines.append(f"  reason:  {o.reason}")
            lines += [f"  written: {path}" for path in o.files if path.endswith(".svg")]
    cut = f"INCOMPLETE ({stopped}): " if stopped else ""
    lines += ["", f"result: {cut}{len(outcomes)} vectors in {seconds:.1f} s: {totals_line(totals(outcomes))}"]
    if any(o.verdict == FAIL for o in outcomes):
        lines.append(f"  FAILs explained: {explanations_line(outcomes)}")
    for name, counts in other_totals(outcomes).items():
        lines.append(f"  judged under {name}: {totals_line(counts)}")
    if complete:
        lines += [f"  stale finding: {f.name} (explains no FAIL of this run)" for f in stale_findings(findings, outcomes)]
    return "\n".join(lines) + "\n"


# What the JSON holds besides what the stack module describes (its version, addresses, sysctls):
# the Markdown report is made from the JSON alone, so a report can be checked against its JSON.
REPORT_KEYS = ("command", "report", "stack", "profile", "profile_title", "departures", "seconds", "totals",
               "explanations", "other_profiles", "findings", "stale_findings", "complete", "vectors")


def conform_json(stack: str, info: dict, profile, outcomes: list[Outcome], seconds: float,
                 findings=(), complete: bool = False, command: str | None = None, report: str | None = None,
                 examples: dict | None = None) -> dict:
    """The run as JSON. ``command`` wrote the report at path ``report`` (None without one);
    ``examples``: finding name -> {"vector", "files"}, each finding's example kept beside the report."""
    clash = sorted(set(info) & set(REPORT_KEYS))
    if clash:
        raise ValueError(f"the stack describes itself with keys the report uses: {clash}")
    explained: dict[str, list[str]] = {}
    for o in outcomes:
        if o.finding is not None:
            explained.setdefault(o.finding.name, []).append(o.name)
    examples = examples or {}
    return {"command": command, "report": report, "stack": stack, **info, "profile": profile.name,
            "profile_title": profile.title, "departures": list(profile.departures),
            "seconds": round(seconds, 1), "totals": totals(outcomes), "explanations": explanations(outcomes),
            "other_profiles": other_totals(outcomes),
            "findings": [{"name": f.name, "kind": f.kind, "rfc": f.rfc, "says": f.says, "does": f.does,
                          "explanation": f.sentence(), "vectors": explained.get(f.name, []),
                          "example": examples.get(f.name)} for f in findings],
            "stale_findings": [f.name for f in stale_findings(findings, outcomes)] if complete else [],
            "complete": complete,
            "vectors": [o.as_dict() for o in outcomes]}


# ---------------------------------------------------------------- one stack's report


def conform_markdown(data: dict) -> str:
    """The conformance report, made from the run's JSON (``conform_json``) alone: generated by
    its ``command``, never edited by hand. Files are linked relative to the folder of its
    ``report``."""
    if not data.get("command"):
        raise ValueError("a conformance report names the command that made it")
    links = _Links(Path(data["report"]).parent if data.get("report") else None)
    counts, vectors = data["totals"], data["vectors"]
    lines = [f"<!-- generated by `{data['command']}`; do not edit -->", f"# Conformance: {data['stack']}", "",
             f"- version: {data.get('version', '')}", f"- kernel: {data.get('kernel', '')}",
             f"- profile: `{data['profile']}` ({data['profile_title']})",
             f"- vectors: {len(vectors)}, run in {data['seconds']:.1f} s: {totals_line(counts)}"]
    if counts[FAIL]:
        lines.append(f"- FAILs explained: {_explanations_line(data['explanations'])}")
    for name, other in data["other_profiles"].items():
        lines.append(f"- the same traces judged under `{name}`: {totals_line(other)}")
    info = {key: value for key, value in data.items() if key not in REPORT_KEYS}
    for key, value in info.items():
        if key not in ("version", "kernel") and not isinstance(value, dict):
            lines.append(f"- {key}: {value}")
    for key, value in info.items():
        if isinstance(value, dict):
            lines += ["", f"{key.capitalize()}:", ""] + [f"- `{name}` = {v}" for name, v in value.items()]
    if data["departures"]:
        lines += ["", "Departures the profile allows (a MAY or SHOULD of the RFC; these vectors PASS):", ""]
        lines += [f"- {d}" for d in data["departures"]]
    lines += _findings_section(data, links)
    lines += ["", "## Every vector", "", "| vector | target | verdict | finding | time (s) |", "|---|---|---|---|---|"]
    for v in vectors:
        note = f"{v['finding']['name']} ({v['finding']['kind']})" if v.get("finding") else ("UNEXPLAINED" if v["verdict"] == FAIL else "")
        lines.append(f"| `{v['vector']}` | {v['target']} | {v['verdict']} | {note} | {v['seconds']:.2f} |")
    examples = {f["example"]["vector"]: f for f in data["findings"] if f.get("example")}
    failing = [v for v in vectors if v["verdict"] in NOT_PASSING]
    if failing:
        lines += ["", "## Deviations", ""]
        for v in failing:
            lines += [f"### `{v['vector']}`: {v['verdict']}", "", f"- target: {v['target']}"]
            if v["verdict"] == FAIL:
                lines.append(f"- at event {v['event']}: seen `{v['seen']}`")
                lines.append(f"- allowed: {'; '.join(f'`{a}`' for a in v['allowed'])}")
                lines += [f"- by: {rfc}" for rfc in v["rfc"]]
                lines.append(f"- finding: **{v['finding']['name']}** ({v['finding']['kind']})" if v.get("finding") else "- finding: UNEXPLAINED")
            else:
                lines.append(f"- reason: {v['reason']}")
            if v["other_profiles"]:
                lines.append("- under the other profiles: " + ", ".join(f"{p}: {verdict}" for p, verdict in v["other_profiles"].items()))
            if v["vector"] in examples:
                lines.append(f"- the example of **{examples[v['vector']]['name']}**: {links.files(examples[v['vector']]['example']['files'])}")
            else:
                lines += [f"- ladder: `{links.shown(path)}` (written by the run; not kept in git)" for path in v["files"] if path.endswith(".svg")]
            lines.append("")
    skipped = [v for v in vectors if v["verdict"] == SKIPPED]
    if skipped:
        lines += ["", "## Skipped", "", "| vector | why |", "|---|---|"]
        lines += [f"| `{v['vector']}` | {v['reason']} |" for v in skipped]
    return "\n".join(lines).rstrip("\n") + "\n"


LABELS = {".svg": "ladder", ".jsonl": "trace", ".pcapng": "capture", ".pcap": "capture"}


class _Links:
    """Paths shown relative to the report's folder when they lie in it."""

    def __init__(self, folder: Path | None):
        self.folder = folder

    def shown(self, path: str) -> str:
        p = Path(path)
        return (p.relative_to(self.folder) if self.folder is not None and p.is_relative_to(self.folder) else p).as_posix()

    def files(self, paths: list[str]) -> str:
        return ", ".join(f"[{LABELS.get(Path(p).suffix, Path(p).suffix)}]({self.shown(p)})" for p in paths)


def _explanations_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {WORDS[k]}" for k, n in counts.items() if n) or "none"


def _findings_section(data: dict, links: _Links) -> list[str]:
    findings, vectors = data["findings"], data["vectors"]
    if not findings and not data["totals"][FAIL]:
        return []
    lines = ["", "## Findings", "",
             ("Each kind of FAIL, analysed once. MUST: the stack breaks an absolute requirement. SHOULD or "
              "MAY: the RFC allows what the stack does, but the spec does not model that alternative yet. "
              "procedure: the stack departs from RFC 9293 §3.10's event processing where no requirement "
              "keyword governs the step. harness: the deviation comes from how the stack's API makes the "
              "user's call. Each finding that explains a FAIL keeps one example, the first such vector by "
              "name: its trace, its capture (pcapng) and its ladder diagram."), ""]
    for f in findings:
        count = len(f["vectors"])
        example = f.get("example")
        tail = f" Example: `{example['vector']}` ({links.files(example['files'])})." if example else ""
        lines.append(f"- **{f['name']}** ({f['kind']}, {count} vector{'s' if count != 1 else ''}): {f['explanation']}.{tail}")
    unexplained = [v["vector"] for v in vectors if v["verdict"] == FAIL and not v.get("finding")]
    if unexplained:
        lines.append(f"- UNEXPLAINED ({len(unexplained)}): " + ", ".join(f"`{n}`" for n in unexplained))
    if data["complete"]:
        lines += [f"- stale: **{name}** explains no FAIL of this run" for name in data["stale_findings"]]
    return lines


# ---------------------------------------------------------------- the matrix of all stacks


def load_results(directory: Path) -> list[dict]:
    """The conform JSON of every stack reported in ``directory`` (``<stack>.json``), by file name."""
    return [data for _, data in sorted(results_by_file(directory).items())]


def results_by_file(directory: Path) -> dict[str, dict]:
    """File name -> the conform JSON of each stack reported in ``directory``. A JSON file that is
    no run's (no "stack" and "vectors") is not one of them; one that cannot be read, or that lacks
    what the matrix shows, is an InputError naming it."""
    results = {}
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise InputError(f"cannot read a conformance run's JSON beside the report: {str(exc)[:200]}", where=str(path)) from None
        if not (isinstance(data, dict) and "stack" in data and "vectors" in data):
            continue
        problem = _matrix_problem(data)
        if problem:
            raise InputError(f"not a conformance run's JSON ({problem}): remove it or run the stack's report again", where=str(path))
        results[path.name] = data
    return results


def _vector_row(v: object) -> bool:
    """A vector's row of a run's JSON: its name, verdict and (for a FAIL) the finding's name."""
    if not (isinstance(v, dict) and isinstance(v.get("vector"), str) and isinstance(v.get("verdict"), str)):
        return False
    finding = v.get("finding")
    return not finding or (isinstance(finding, dict) and isinstance(finding.get("name"), str))


def _matrix_problem(data: dict) -> str:
    """What a run's JSON lacks of what the matrix reads, or ""."""
    if not isinstance(data["stack"], str) or not isinstance(data.get("profile"), str):
        return '"stack" and "profile" must be strings'
    if not isinstance(data.get("seconds"), (int, float)) or isinstance(data.get("seconds"), bool):
        return '"seconds" must be a number'
    totals = data.get("totals")
    if not isinstance(totals, dict) or not all(isinstance(n, int) for n in totals.values()):
        return '"totals" must map verdicts to counts'
    if not isinstance(data.get("explanations", {}), dict):
        return '"explanations" must be an object'
    vectors = data["vectors"]
    if not isinstance(vectors, list) or not all(_vector_row(v) for v in vectors):
        return '"vectors" must be a list of {"vector", "verdict"}'
    findings = data.get("findings", [])
    if not isinstance(findings, list) or not all(isinstance(f, dict) and {"name", "kind", "rfc", "says", "does"} <= set(f)
                                                 and isinstance(f.get("vectors"), list) for f in findings):
        return '"findings" must be a list of findings'
    return ""


def matrix_command(folder: Path) -> str:
    """The command the matrix of the reports in ``folder`` names: any stack's report there."""
    return shlex.join(["tcpmodel", "conform", "--stack", "STACK", "--report", str(Path(folder) / "STACK.md")])


def matrix_markdown(command: str, results: list[dict]) -> str:
    """``reports/conformance/README.md``: every vector on every stack, with the releases."""
    stacks = [r["stack"] for r in results]
    lines = [f"<!-- generated by `{command}` from the *.json beside it; do not edit -->", "# Conformance matrix", "",
             "Every conformance vector (`tcpmodel vectors specs/rfc9293.toml`) run against each stack by "
             "`tcpmodel conform`, judged by the oracle under the stack's profile. A FAIL names the finding that "
             "explains it (see the stack's report): MUST is a violation of an absolute requirement; SHOULD or MAY "
             "a departure the RFC allows and the spec does not model yet; procedure, a departure from §3.10's "
             "event processing where no requirement keyword governs the step; harness, the stack's API.", "",
             "| stack | version | kernel | profile | vectors | PASS | FAIL | SKIPPED | other | FAILs explained | seconds | report |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        t = r["totals"]
        other = sum(n for v, n in t.items() if v not in (PASS, FAIL, SKIPPED))
        e = r.get("explanations", {})
        explained = ", ".join(f"{n} {k}" for k, n in e.items() if n) or "-"
        lines.append(f"| {r['stack']} | {r.get('version', '')} | {r.get('kernel', '')} | `{r['profile']}` | {len(r['vectors'])} | "
                     f"{t.get('PASS', 0)} | {t.get('FAIL', 0)} | {t.get(SKIPPED, 0)} | {other} | {explained} | {r['seconds']} | "
                     f"[{r['stack']}.md]({r['stack']}.md) |")
    verdicts = {r["stack"]: {v["vector"]: v for v in r["vectors"]} for r in results}
    names = list(dict.fromkeys(v["vector"] for r in results for v in r["vectors"]))
    lines += ["", "## Findings", ""]
    for r in results:
        for f in r.get("findings", []):
            lines.append(f"- {r['stack']}: **{f['name']}** ({f['kind']}, {len(f['vectors'])}): {f['rfc']} says {f['says']}; "
                         f"{r['stack']} {f['does']}.")
    lines += ["", "## Every vector", "", "| vector | " + " | ".join(stacks) + " |", "|---|" + "---|" * len(stacks)]
    for name in names:
        cells = []
        for stack in stacks:
            v = verdicts[stack].get(name)
            if v is None:
                cells.append("not run")
            elif v["verdict"] == FAIL:
                cells.append(f"FAIL: {v['finding']['name']}" if v.get("finding") else "FAIL: UNEXPLAINED")
            else:
                cells.append(v["verdict"])
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
