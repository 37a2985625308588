"""``tcpmodel export``: the files of one format, from the writers in this package."""

from __future__ import annotations

from tcpmodel.base.errors import InputError
from tcpmodel.export.common import system_facts
from tcpmodel.export.promela import write_promela
from tcpmodel.export.tla import write_tla
from tcpmodel.language.spec import Spec
from tcpmodel.system.scenario import Scenario

FORMATS = ("promela", "tla")


def write_export(spec: Spec, scenario: Scenario, fmt: str, command: str) -> dict[str, str]:
    """The files of the export in format ``fmt``: {file name: text}. ``command`` is recorded."""
    facts = system_facts(spec, scenario)
    if fmt == "promela":
        return {f"{spec.name}.pml": write_promela(facts, command)}
    if fmt == "tla":
        return write_tla(facts, command)
    raise InputError(f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})")
