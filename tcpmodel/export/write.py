"""``tcpmodel export``: the files of one format, from the writers in this package."""

from __future__ import annotations

from tcpmodel.base.errors import InputError
from tcpmodel.base.files import plain_file_name
from tcpmodel.export.common import system_facts
from tcpmodel.export.promela import write_promela
from tcpmodel.export.tla import write_tla
from tcpmodel.language.spec import Spec
from tcpmodel.system.scenario import Scenario

FORMATS = ("promela", "tla")


def write_export(spec: Spec, scenario: Scenario, fmt: str, command: str) -> dict[str, str]:
    """The files of the export in format ``fmt``: {file name: text}, each name a plain file name
    (``base.files.plain_file_name``: the spec's name is validated when it loads, and checked again
    here, so that a writer may join it to its folder). ``command`` is recorded."""
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})")
    facts = system_facts(spec, scenario)
    files = {f"{spec.name}.pml": write_promela(facts, command)} if fmt == "promela" else write_tla(facts, command)
    return {plain_file_name(name): text for name, text in files.items()}
