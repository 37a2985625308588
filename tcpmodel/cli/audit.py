"""``tcpmodel audit``: judge traces and captures, and draw the ladder of every FAILing side."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tcpmodel.base.errors import InputError
from tcpmodel.cli.output import (
    EXIT_INPUT,
    EXIT_OK,
    EXIT_VIOLATION,
    write_atomic,
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
    for path in args.files:
        try:
            audits.append(audit_file(path, spec, profile))
        except InputError as exc:
            errors.append(str(exc))
    errors += [a.error for a in audits if a.error]
    files = write_audit_ladders(audits, Path(args.out), spec.name, errors)
    if args.json:
        print(json.dumps(audit_json(profile, audits, errors, files), indent=2))
    elif any(a.connections for a in audits) or not errors:
        print(audit_text(profile, audits, files), end="")
    for error in errors:
        sys.stderr.write(f"tcpmodel: error: {error}\n")
    if errors:
        return EXIT_INPUT
    return EXIT_VIOLATION if any(c.verdict == FAIL for a in audits for c in a.connections) else EXIT_OK


def write_audit_ladders(audits, out: Path, spec_name: str, errors: list[str]) -> dict[tuple[int, int, int], str]:
    """Write the ladder diagram of every FAILing side; the paths by (file, connection, side) index.
    A diagram that cannot be written is one more error."""

    files = {}
    for i, (audit, stem) in enumerate(zip(audits, file_stems([a.path for a in audits]), strict=True)):
        for c, connection in enumerate(audit.connections):
            for s, side in enumerate(connection.sides):
                if side.judgement.verdict != FAIL:
                    continue
                path = ladder_file(out, stem, connection, c, s)
                try:
                    write_atomic(path, render_side(side, ladder_subtitle(connection, c, spec_name)), "ladder diagram")
                except InputError as exc:
                    errors.append(str(exc))
                    continue
                files[i, c, s] = str(path)
    return files
