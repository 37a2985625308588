"""The files a conformance run leaves: each vector's trace, capture and ladder, and each finding's example.

``write_files`` writes what one vector recorded, ``OUT/<vector>.jsonl`` (the trace the oracle
judged), ``.pcap`` (every packet both ways, in Ethernet frames) and, for a FAIL, ``.svg`` (the
ladder diagram with the deviation marked): for every vector that did not PASS, into a folder
that is not kept in git (``reports/conformance/<stack>/vectors/``).

A report keeps one example of each finding that explains a FAIL, the first such vector by name:
``write_examples`` writes ``<finding>.jsonl``, ``<finding>.pcapng`` and ``<finding>.svg`` beside
the report (``reports/conformance/<stack>/``), each naming the command that made it (the trace's
header, the pcapng section's comment, the SVG's metadata; ``rendering.provenance``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tcpmodel.base.files import inside
from tcpmodel.conformance.outcomes import Outcome
from tcpmodel.oracle.audit import Side
from tcpmodel.oracle.verdicts import FAIL
from tcpmodel.rendering.auditladder import render_side
from tcpmodel.rendering.provenance import generated, stamp_svg
from tcpmodel.traces.pcap import write_pcap
from tcpmodel.traces.trace import Trace, write_atomic, write_trace

ETHERNET_HEADER = bytes.fromhex("020000000002" "020000000001" "0800")  # fixed, locally administered


def write_files(out: Path, name: str, trace: Trace, recording, verdict, spec_name: str) -> list[str]:
    """``OUT/<vector>.jsonl`` and ``.pcap``, and ``.svg`` (the ladder) for a FAIL; their paths."""
    stem = inside(out, name)  # a vector's name is made of validated rule and state names; refused if it were not a plain name
    paths = [stem.with_name(stem.name + ".jsonl"), stem.with_name(stem.name + ".pcap")]
    write_trace(paths[0], trace)
    write_pcap(paths[1], frames(recording))
    if verdict.verdict == FAIL:
        paths.append(stem.with_name(stem.name + ".svg"))
        write_atomic(paths[2], ladder(name, trace, recording, verdict, spec_name).encode("utf-8"), "ladder diagram")
    return [str(p) for p in paths]


def examples(outcomes: list[Outcome]) -> dict[str, Outcome]:
    """Finding name -> the outcome that is its example: the first FAIL it explains, by vector name."""
    chosen: dict[str, Outcome] = {}
    for o in sorted(outcomes, key=lambda o: o.name):
        if o.verdict == FAIL and o.finding is not None:
            chosen.setdefault(o.finding.name, o)
    return chosen


def write_examples(folder: Path, outcomes: list[Outcome], command: str, spec_name: str) -> dict[str, dict]:
    """Write each finding's example into ``folder``; finding name -> {"vector", "files"}.
    Every outcome chosen must still hold what it recorded (``Outcome.recorded``)."""
    written = {}
    for finding, o in sorted(examples(outcomes).items()):
        assert o.recorded is not None, f"{o.name}: a FAIL keeps what it recorded"
        trace, recording = o.recorded
        stem = inside(folder, finding)
        paths = [stem.with_name(stem.name + suffix) for suffix in (".jsonl", ".pcapng", ".svg")]
        write_trace(paths[0], Trace(dataclasses.replace(trace.header, command=command), trace.events))
        write_pcap(paths[1], frames(recording), comment=f"{generated(command)}; the example of the finding {finding}: vector {o.name}")
        svg = stamp_svg(ladder(o.name, trace, recording, o.judged, spec_name), command)
        write_atomic(paths[2], svg.encode("utf-8"), "ladder diagram")
        written[finding] = {"vector": o.name, "files": [str(p) for p in paths]}
    return written


def frames(recording) -> list[tuple[float, bytes]]:
    """The recording's packets (raw IPv4) as Ethernet frames with their wall-clock times."""
    return [(t, ETHERNET_HEADER + raw) for t, raw in recording.packets]


def ladder(name: str, trace: Trace, recording, verdict, spec_name: str) -> str:
    return render_side(Side(recording.endpoint, verdict, trace), f"vector {name}; spec {spec_name}")
