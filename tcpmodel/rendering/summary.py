"""Check results as text for people and as JSON for programs. Pure functions: no I/O."""

from __future__ import annotations

from tcpmodel.base.seqnum import HALF, MODULUS, seq_sub
from tcpmodel.checking.check import CheckResult
from tcpmodel.oracle.verdicts import FAIL, INCONCLUSIVE, PASS
from tcpmodel.proofs.results import PROVED, REFUTED, UNKNOWN, ProofStatus


def to_text(result: CheckResult, files: dict[str, list[str]] | None = None) -> str:
    ex = result.exploration
    spec = result.spec
    lines = [
        f"spec:      {spec.name} ({spec.title}): {len(spec.states)} states, {result.total_rules} rules"
        + (f" ({len(result.inactive_rules)} more belong to options not enabled)" if result.inactive_rules else ""),
        f"scenario:  {result.scenario.summary()}",
        f"explored:  {ex.count:,} states, {ex.transitions:,} transitions, depth {ex.depth}, "
        + ("complete" if ex.complete else f"INCOMPLETE ({ex.stop_reason})")
        + f", {ex.seconds:.1f} s" + (" (reduced: segment causes merged)" if result.reduced else ""),
        f"memory:    {memory_line(ex, result.peak_rss)}",
        *(f"note:      {note}" for note in result.notes),
        f"fairness:  {result.fairness}",
        "properties:",
    ]
    width = max(len(p.prop.name) for p in result.properties)
    for p in result.properties:
        lines.append(f"  {p.status:<9} {p.prop.name:<{width}}  {p.prop.rfc}: {p.prop.text}")
    percent = 100.0 * result.fired / result.total_rules if result.total_rules else 100.0
    lines.append(f"coverage:  {result.fired}/{result.total_rules} rules fired ({percent:.0f} %)")
    if ex.complete and result.dead_rules:
        lines.append("  never fired: " + ", ".join(result.dead_rules))
    if ex.complete and result.unreachable_states:
        lines.append("  states never reached: " + ", ".join(result.unreachable_states))
    lines.append(f"small ISNs: {isn_line(result)}")
    for p in result.violated:
        assert p.counterexample is not None  # a violated property has its counterexample
        lines.append("")
        lines.append(p.counterexample.to_text())
        for path in (files or {}).get(p.prop.name, []):
            lines.append(f"  written: {path}")
    lines.append("")
    lines.append(verdict_line(result))
    return "\n".join(lines) + "\n"


def bytes_per_state(ex) -> float:
    """What storing one explored state costs: its code, hash index and parent link (packed), or
    the parent link and edge offsets alone (state by state, where states are Python tuples whose
    size is not measured)."""
    return ex.store_bytes / ex.count if ex.count else 0.0


def memory_line(ex, peak: int) -> str:
    per_edge = ex.edge_bytes / ex.transitions if ex.transitions else 0.0
    store = f"{bytes_per_state(ex):.1f} bytes per stored state" if ex.packed else "states stored as Python tuples"
    return (f"{store}, {per_edge:.1f} bytes per transition (edge list); peak {peak / 2**20:,.0f} MB resident "
            f"({ex.peak_rss / 2**20:,.0f} MB when the search ended)")


def isn_line(result: CheckResult) -> str:
    """Why the scenario's concrete ISNs stand for all others (or that they do not)."""
    isn = result.scenario.isn
    if result.span < HALF:
        return (f"the sequence numbers explored lie within {result.span:,} of each other (< 2^31), so each comparison made "
                f"has the same outcome after moving every number by one 32-bit constant K; with translation.* and "
                f"absolute_seq.* proved by `tcpmodel prove`, the verdicts hold for ISNs {isn[0]}+K, {isn[1]}+K, every K")
    return (f"NOT justified: the sequence numbers explored span {result.span:,} >= 2^31, so some comparison may "
            f"change outcome under a shift; choose closer --isn values")


def verdict_line(result: CheckResult) -> str:
    violated = result.violated
    if violated:
        names = ", ".join(p.prop.name for p in violated)
        return f"result: VIOLATED: {names}"
    if not result.exploration.complete:
        return f"result: INCOMPLETE: no violation found in the {result.exploration.count:,} states explored ({result.exploration.stop_reason})"
    if not result.complete:
        undecided = ", ".join(p.prop.name for p in result.properties if p.holds is None)
        return f"result: INCOMPLETE: the search was complete and no property is violated; not decided: {undecided} ({result.stop_reason})"
    return f"result: all {len(result.properties)} properties hold"


def to_json(result: CheckResult, files: dict[str, list[str]] | None = None) -> dict:
    ex = result.exploration
    return {
        "spec": result.spec.name,
        "spec_file": str(result.spec.path),
        "scenario": result.scenario.describe(),
        "states": ex.count,
        "transitions": ex.transitions,
        "depth": ex.depth,
        "complete": result.complete,  # the search was complete and every property decided
        "search_complete": ex.complete,
        "stop_reason": result.stop_reason or None,
        "seconds": round(ex.seconds, 3),
        "reduction": "merge_causes" if result.reduced else None,
        "unreduced": None if result.reduced else {"states": ex.count, "transitions": ex.transitions},
        "memory": {
            "engine": "packed" if ex.packed else "generic",
            "bytes_per_state": round(bytes_per_state(ex), 1) if ex.packed else None,
            "store_bytes": ex.store_bytes,
            "edge_bytes": ex.edge_bytes,
            "peak_rss_bytes": result.peak_rss,
            "search_peak_rss_bytes": ex.peak_rss,
        },
        "notes": result.notes,
        "fairness": result.fairness,
        "properties": [
            {
                "name": p.prop.name,
                "kind": p.prop.kind,
                "rfc": p.prop.rfc,
                "text": p.prop.text,
                "holds": p.holds,
                **({"note": p.note} if p.note else {}),
                **(
                    {
                        "counterexample": {
                            "steps": p.counterexample.step_records(),
                            "cycle_start": p.counterexample.cycle_start,
                            "files": (files or {}).get(p.prop.name, []),
                        }
                    }
                    if p.counterexample
                    else {}
                ),
            }
            for p in result.properties
        ],
        "coverage": {
            "fired": result.fired,
            "total": result.total_rules,
            "rules": result.rule_counts,
            "inactive": result.inactive_rules,
        },
        "unreachable_states": result.unreachable_states if ex.complete else None,
        "sequence_span": result.span,
        "small_isns_justified": result.span < HALF,
        "quiet_states": result.quiet_states,
    }


def near_wrap(value) -> str:
    """A 32-bit value, also written as its distance below 2**32 when it is in the upper half."""
    if isinstance(value, bool) or not isinstance(value, int):
        return str(value)
    if HALF <= value < MODULUS:
        return f"{value} (2^32-{seq_sub(0, value)})"
    return str(value)


def proof_text(spec, results, report: str | None = None, stopped: str = "") -> str:
    """The obligations decided; ``stopped`` says why the run ended before deciding every one."""
    counts = {s: sum(r.status == s for r in results) for s in ProofStatus}
    failing = [r for r in results if not r.ok]
    witnessed = [r for r in results if r.ok and r.witness]
    lines = [
        f"spec:        {spec.name} ({spec.title})",
        f"obligations: {len(results)}: {counts[PROVED]} proved ({len(witnessed)} of them by a witness that an "
        f"intuition fails), {counts[REFUTED]} refuted, {counts[UNKNOWN]} unknown; "
        f"Z3 time {sum(r.seconds for r in results):.1f} s",
    ]
    for r in witnessed + failing:
        mark = "witness" if r.ok else "NOT MET"
        lines.append(f"  {r.status:<8} {mark:<8} {r.name}  ({r.seconds:.2f} s)")
        lines.append(f"           {r.detail}")
        if r.model:
            lines.append("           model: " + ", ".join(f"{k}={near_wrap(v)}" for k, v in r.model.items()))
    if report:
        lines.append(f"report:      {report}")
    lines.append("")
    if stopped:
        met = f"; not met so far: {', '.join(r.name for r in failing)}" if failing else ""
        lines.append(f"result: INCOMPLETE: {stopped} after {len(results)} obligations{met}")
    elif failing:
        lines.append(f"result: {len(failing)} obligation{'s' if len(failing) != 1 else ''} not met: " + ", ".join(r.name for r in failing))
    else:
        lines.append(f"result: all {len(results)} obligations proved")
    return "\n".join(lines) + "\n"


def proof_json(spec, results) -> dict:
    return {
        "spec": spec.name,
        "spec_file": str(spec.path),
        "proofs": [r.as_dict() for r in results],
        "met": all(r.ok for r in results),
        "seconds": round(sum(r.seconds for r in results), 3),
    }


# ---------------------------------------------------------------- audit


def audit_text(profile, audits, files: dict | None = None) -> str:
    """``files``: the ladder diagrams written, by (file, connection, side) index."""
    files = files or {}
    connections = [c for a in audits for c in a.connections]
    lines = [f"profile:  {profile.name} ({profile.title})"]
    if connections:
        width = max(len(c.name) for c in connections)
        lines.append(f"{'verdict':<13} {'connection':<{width}}  file")
        lines += [f"{c.verdict:<13} {c.name:<{width}}  {c.file}" for c in connections]
    for (i, j), c in indexed(audits):
        for k, side in enumerate(c.sides):
            v = side.judgement
            if v.verdict == FAIL:
                lines.append("")
                lines.append(f"FAIL {c.name} ({c.file}), endpoint {side.endpoint}, event {v.event}:")
                lines.append(f"  seen:    {v.seen}")
                lines.append(f"  allowed: {'; '.join(v.allowed)}")
                lines += [f"  by:      {rfc}" for rfc in v.rfc]
                if (i, j, k) in files:
                    lines.append(f"  written: {files[i, j, k]}")
            elif v.verdict == INCONCLUSIVE:
                lines.append(f"INCONCLUSIVE {c.name}, endpoint {side.endpoint}: {v.reason}")
    counts = {k: sum(c.verdict == k for c in connections) for k in (PASS, FAIL, INCONCLUSIVE)}
    lines.append("")
    lines.append(f"result: {len(connections)} connection{'s' if len(connections) != 1 else ''}: "
                 f"{counts[PASS]} PASS, {counts[FAIL]} FAIL, {counts[INCONCLUSIVE]} INCONCLUSIVE")
    return "\n".join(lines) + "\n"


def audit_json(profile, audits, errors, files: dict | None = None) -> dict:
    """``files``: the ladder diagrams written, by (file, connection, side) index; each connection
    lists its own under "files"."""
    files = files or {}
    return {
        "profile": profile.name,
        "profile_title": profile.title,
        "departures": list(profile.departures),
        "connections": [
            {**c.as_dict(), "files": [files[i, j, k] for k in range(len(c.sides)) if (i, j, k) in files]}
            for (i, j), c in indexed(audits)
        ],
        "errors": errors,
    }


def indexed(audits):
    """Each connection of each audited file with its (file, connection) index."""
    return [((i, j), c) for i, a in enumerate(audits) for j, c in enumerate(a.connections)]


def replay_text(replay, run) -> str:
    """``tcpmodel replay``'s report: the run, how far it re-executed, and whether it reproduces."""
    header = run.header
    lines = [f"run:       {run.name}: {len(run.steps)} steps of {header.spec} ({header.spec_file})"]
    if replay.system is not None:
        lines.append(f"spec:      {replay.system.spec.name} ({replay.system.spec.path})")
        lines.append(f"scenario:  {replay.system.scenario.summary()}")
    lines.append(f"steps:     {replay.replayed} of {replay.steps} re-executed" + (", each a step the system has" if replay.replayed == replay.steps else ""))
    if replay.prop is not None:
        if replay.reproduced:
            what = "violated at the end of the run, as recorded"
        else:
            what = "not evaluated: the run diverges" if replay.replayed < replay.steps else "not violated by the run"
        lines.append(f"property:  {replay.prop} ({header.rfc}): {what}" + (f" (a cycle from step {header.cycle_start})" if header.cycle_start else ""))
    if not replay.reproduced:
        lines.append(f"diverges:  {replay.where}: {replay.reason}")
    result = "reproduced" if replay.reproduced else ("diverges" if replay.replayed < replay.steps else "not reproduced")
    lines += ["", f"result: {result}"]
    return "\n".join(lines) + "\n"


def replay_json(replay, run) -> dict:
    return {
        "file": run.name,
        "spec": replay.system.spec.name if replay.system is not None else run.header.spec,
        "property": replay.prop,
        "steps": replay.steps,
        "replayed": replay.replayed,
        "reproduced": replay.reproduced,
        "where": replay.where or None,
        "reason": replay.reason or None,
    }
