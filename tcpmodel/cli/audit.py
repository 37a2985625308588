"""``tcpmodel audit``: judge traces and captures, and draw the ladder of every FAILing side."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tcpmodel.base.errors import InputError, printable
from tcpmodel.base.interrupts import Interrupted, reason_of
from tcpmodel.base.staging import Staging
from tcpmodel.cli.output import (
    EXIT_INPUT,
    EXIT_OK,
    EXIT_VIOLATION,
)
from tcpmodel.language.spec import load_spec
from tcpmodel.oracle.audit import audit_file
from tcpmodel.oracle.profiles import profile_named
from tcpmodel.oracle.verdicts import FAIL
from tcpmodel.rendering.auditladder import (
    file_stems,
    ladder_file,
    ladder_subtitle,
    render_side,
)
from tcpmodel.rendering.summary import audit_json, audit_text


def run(args) -> int:
    spec = load_spec(args.spec)
    profile = profile_named(args.profile)
    audits, errors = [], []
    stopped = ""
    try:
        for path in args.files:
            try:
                audits.append(audit_file(path, spec, profile))
            except InputError as exc:
                errors.append(str(exc))
    except KeyboardInterrupt as exc:  # the files judged so far are printed; no ladder is written
        stopped = f"{reason_of(exc)} after {len(audits) + len(errors)} of {len(args.files)} files (no ladder diagram written)"
    errors += [a.error for a in audits if a.error]
    files = write_audit_ladders(audits, Path(args.out), spec.name, errors) if not stopped else {}
    if args.json:
        print(json.dumps(audit_json(profile, audits, errors, files), indent=2))
    elif any(a.connections for a in audits) or not errors:
        print(audit_text(profile, audits, files), end="")
    for error in errors:
        sys.stderr.write(f"tcpmodel: error: {printable(error)}\n")
    if stopped:
        raise Interrupted(stopped)
    if errors:
        return EXIT_INPUT
    return EXIT_VIOLATION if any(c.verdict == FAIL for a in audits for c in a.connections) else EXIT_OK


def write_audit_ladders(audits, out: Path, spec_name: str, errors: list[str]) -> dict[tuple[int, int, int], str]:
    """Write the ladder diagram of every FAILing side, all or none (``base.staging``); the paths
    by (file, connection, side) index. Diagrams that cannot be written are one more error."""

    drawn = {}
    for i, (audit, stem) in enumerate(zip(audits, file_stems([a.path for a in audits]), strict=True)):
        for c, connection in enumerate(audit.connections):
            for s, side in enumerate(connection.sides):
                if side.judgement.verdict == FAIL:
                    drawn[i, c, s] = (ladder_file(Path(), stem, connection, c, s).name, side, ladder_subtitle(connection, c, spec_name))
    if not drawn:
        return {}
    files = {}
    try:
        with Staging(out, "ladder diagrams") as stage:
            for key, (name, side, subtitle) in drawn.items():
                files[key] = str(stage.write(name, render_side(side, subtitle), "ladder diagram"))
            stage.commit()
    except InputError as exc:
        errors.append(str(exc))
        return {}
    return files
