"""What a conformance run says: the text ``tcpmodel conform`` prints, its JSON, the per-stack
Markdown report, and the matrix of every vector on every stack (``reports/conformance/README.md``).

Every FAIL is shown with the finding that explains it (``tcpmodel.conformance.findings``) or marked
UNEXPLAINED; a full run also lists the stack's findings that explained nothing (stale). The JSON
of a run is what the matrix is built from: ``--report reports/conformance/<stack>.md`` writes it
beside the report as ``<stack>.json``, and the matrix is regenerated from every such file there.
"""

from __future__ import annotations

import json
from pathlib import Path

from tcpmodel.conformance.findings import KINDS, stale
from tcpmodel.conformance.harness import ERROR, SKIPPED, VERDICTS, Outcome

NOT_PASSING = ("FAIL", "INCONCLUSIVE", ERROR)


def totals(outcomes: list[Outcome]) -> dict[str, int]:
    return {v: sum(o.verdict == v for o in outcomes) for v in VERDICTS}


def totals_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {v}" for v, n in counts.items() if n or v in ("PASS", "FAIL", SKIPPED))


def other_totals(outcomes: list[Outcome]) -> dict[str, dict[str, int]]:
    """Per other profile: the totals had the run been judged under it (SKIPPED and ERROR stay)."""
    names = sorted({p for o in outcomes for p in o.others})
    return {p: {v: sum((o.others.get(p, o.verdict)) == v for o in outcomes) for v in VERDICTS} for p in names}


def explanations(outcomes: list[Outcome]) -> dict[str, int]:
    """How the FAILs are explained: a count per finding kind, and "unexplained"."""
    fails = [o for o in outcomes if o.verdict == "FAIL"]
    counts = {kind: sum(o.finding is not None and o.finding.kind == kind for o in fails) for kind in KINDS}
    counts["unexplained"] = sum(o.finding is None for o in fails)
    return counts


WORDS = {"MUST": "MUST violation", "SHOULD": "SHOULD departure", "MAY": "MAY departure",
         "procedure": "§3.10 procedure departure", "harness": "by the harness",
         "unexplained": "UNEXPLAINED"}


def explanations_line(outcomes: list[Outcome]) -> str:
    return ", ".join(f"{n} {WORDS[k]}" for k, n in explanations(outcomes).items() if n) or "none"


def stale_findings(findings, outcomes: list[Outcome]) -> list:
    return stale(findings, [(o.name, o.judged.seen) for o in outcomes if o.verdict == "FAIL" and o.judged])


# ---------------------------------------------------------------- text and JSON


def conform_text(stack: str, info: dict, profile, outcomes: list[Outcome], seconds: float,
                 findings=(), complete: bool = False) -> str:
    width = max([len(o.name) for o in outcomes] + [6])
    lines = [f"stack:    {stack} ({info.get('version', '')}; kernel {info.get('kernel', '')})",
             f"profile:  {profile.name} ({profile.title})", f"{'vector':<{width}}  {'verdict':<12} {'time':>7}"]
    for o in outcomes:
        lines.append(f"{o.name:<{width}}  {o.verdict:<12} {o.seconds:>6.2f}s" + (f"  [{o.finding.name}]" if o.finding else ""))
    for o in outcomes:
        if o.verdict in NOT_PASSING:
            lines += ["", f"{o.verdict} {o.name} ({o.target})" + (f", event {o.judged.event}" if o.judged and o.judged.event is not None else "") + ":"]
            if o.judged and o.judged.verdict == "FAIL":
                lines += [f"  seen:    {o.judged.seen}", f"  allowed: {'; '.join(o.judged.allowed)}"]
                lines += [f"  by:      {rfc}" for rfc in o.judged.rfc]
                lines.append(f"  finding: {o.finding.name} ({o.finding.kind}): {o.finding.sentence()}" if o.finding else "  finding: UNEXPLAINED (no finding of this stack matches)")
            else:
                lines.append(f"  reason:  {o.reason}")
            lines += [f"  written: {path}" for path in o.files if path.endswith(".svg")]
    lines += ["", f"result: {len(outcomes)} vectors in {seconds:.1f} s: {totals_line(totals(outcomes))}"]
    if any(o.verdict == "FAIL" for o in outcomes):
        lines.append(f"  FAILs explained: {explanations_line(outcomes)}")
    for name, counts in other_totals(outcomes).items():
        lines.append(f"  judged under {name}: {totals_line(counts)}")
    if complete:
        lines += [f"  stale finding: {f.name} (explains no FAIL of this run)" for f in stale_findings(findings, outcomes)]
    return "\n".join(lines) + "\n"


def conform_json(stack: str, info: dict, profile, outcomes: list[Outcome], seconds: float,
                 findings=(), complete: bool = False) -> dict:
    explained = {}
    for o in outcomes:
        if o.finding is not None:
            explained.setdefault(o.finding.name, []).append(o.name)
    return {"stack": stack, **info, "profile": profile.name, "departures": list(profile.departures),
            "seconds": round(seconds, 1), "totals": totals(outcomes), "explanations": explanations(outcomes),
            "other_profiles": other_totals(outcomes),
            "findings": [{"name": f.name, "kind": f.kind, "rfc": f.rfc, "says": f.says, "does": f.does,
                          "vectors": explained.get(f.name, [])} for f in findings],
            "stale_findings": [f.name for f in stale_findings(findings, outcomes)] if complete else [],
            "complete": complete,
            "vectors": [o.as_dict() for o in outcomes]}


# ---------------------------------------------------------------- one stack's report


def conform_markdown(command: str, stack: str, info: dict, profile, outcomes: list[Outcome], seconds: float,
                     findings=(), complete: bool = False, links: Path | None = None) -> str:
    """The conformance report: generated by ``command``, never edited by hand. ``links``: the
    directory the report sits in, so that ladder diagrams are linked relative to it."""
    counts = totals(outcomes)
    lines = [f"<!-- generated by `{command}`; do not edit -->", f"# Conformance: {stack}", "",
             f"- version: {info.get('version', '')}", f"- kernel: {info.get('kernel', '')}",
             f"- profile: `{profile.name}` ({profile.title})",
             f"- vectors: {len(outcomes)}, run in {seconds:.1f} s: {totals_line(counts)}"]
    if counts["FAIL"]:
        lines.append(f"- FAILs explained: {explanations_line(outcomes)}")
    for name, other in other_totals(outcomes).items():
        lines.append(f"- the same traces judged under `{name}`: {totals_line(other)}")
    for key, value in info.items():
        if key not in ("version", "kernel") and not isinstance(value, dict):
            lines.append(f"- {key}: {value}")
    for key, value in info.items():
        if isinstance(value, dict):
            lines += ["", f"{key.capitalize()}:", ""] + [f"- `{name}` = {v}" for name, v in value.items()]
    if profile.departures:
        lines += ["", "Departures the profile allows (a MAY or SHOULD of the RFC; these vectors PASS):", ""]
        lines += [f"- {d}" for d in profile.departures]
    lines += _findings_section(findings, outcomes, complete)
    lines += ["", "## Every vector", "", "| vector | target | verdict | finding | time (s) |", "|---|---|---|---|---|"]
    for o in outcomes:
        note = f"{o.finding.name} ({o.finding.kind})" if o.finding else ("UNEXPLAINED" if o.verdict == "FAIL" else "")
        lines.append(f"| `{o.name}` | {o.target} | {o.verdict} | {note} | {o.seconds:.2f} |")
    failing = [o for o in outcomes if o.verdict in NOT_PASSING]
    if failing:
        lines += ["", "## Deviations", ""]
        for o in failing:
            lines += [f"### `{o.name}`: {o.verdict}", "", f"- target: {o.target}"]
            if o.judged and o.judged.verdict == "FAIL":
                lines.append(f"- at event {o.judged.event}: seen `{o.judged.seen}`")
                lines.append(f"- allowed: {'; '.join(f'`{a}`' for a in o.judged.allowed)}")
                lines += [f"- by: {rfc}" for rfc in o.judged.rfc]
                lines.append(f"- finding: **{o.finding.name}** ({o.finding.kind})" if o.finding else "- finding: UNEXPLAINED")
            else:
                lines.append(f"- reason: {o.reason}")
            if o.others:
                lines.append("- under the other profiles: " + ", ".join(f"{p}: {v}" for p, v in o.others.items()))
            for path in o.files:
                if path.endswith(".svg"):
                    shown = Path(path).relative_to(links) if links and Path(path).is_relative_to(links) else Path(path)
                    lines.append(f"- ladder: [{shown.name}]({shown.as_posix()})")
            lines.append("")
    skipped = [o for o in outcomes if o.verdict == SKIPPED]
    if skipped:
        lines += ["", "## Skipped", "", "| vector | why |", "|---|---|"]
        lines += [f"| `{o.name}` | {o.reason} |" for o in skipped]
    return "\n".join(lines).rstrip("\n") + "\n"


def _findings_section(findings, outcomes: list[Outcome], complete: bool) -> list[str]:
    if not findings and not any(o.verdict == "FAIL" for o in outcomes):
        return []
    lines = ["", "## Findings", "",
             "Each kind of FAIL, analysed once. MUST: the stack breaks an absolute requirement. SHOULD or "
             "MAY: the RFC allows what the stack does, but the spec does not model that alternative yet. "
             "procedure: the stack departs from RFC 9293 §3.10's event processing where no requirement "
             "keyword governs the step. harness: the deviation comes from how the stack's API makes the "
             "user's call.", ""]
    for finding in findings:
        names = [o.name for o in outcomes if o.finding is finding]
        lines.append(f"- **{finding.name}** ({finding.kind}, {len(names)} vector{'s' if len(names) != 1 else ''}): "
                     f"{finding.sentence()}.")
    unexplained = [o.name for o in outcomes if o.verdict == "FAIL" and o.finding is None]
    if unexplained:
        lines.append(f"- UNEXPLAINED ({len(unexplained)}): " + ", ".join(f"`{n}`" for n in unexplained))
    if complete:
        for finding in stale_findings(findings, outcomes):
            lines.append(f"- stale: **{finding.name}** explains no FAIL of this run")
    return lines


# ---------------------------------------------------------------- the matrix of all stacks


def load_results(directory: Path) -> list[dict]:
    """The conform JSON of every stack reported in ``directory`` (``<stack>.json``), by name."""
    results = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text())
        if isinstance(data, dict) and "stack" in data and "vectors" in data:
            results.append(data)
    return results


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
        other = sum(n for v, n in t.items() if v not in ("PASS", "FAIL", SKIPPED))
        e = r.get("explanations", {})
        explained = ", ".join(f"{n} {k}" for k, n in e.items() if n) or "-"
        lines.append(f"| {r['stack']} | {r.get('version', '')} | {r.get('kernel', '')} | `{r['profile']}` | {len(r['vectors'])} | "
                     f"{t.get('PASS', 0)} | {t.get('FAIL', 0)} | {t.get(SKIPPED, 0)} | {other} | {explained} | {r['seconds']} | [{r['stack']}.md]({r['stack']}.md) |")
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
            elif v["verdict"] == "FAIL":
                cells.append(f"FAIL: {v['finding']['name']}" if v.get("finding") else "FAIL: UNEXPLAINED")
            else:
                cells.append(v["verdict"])
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
