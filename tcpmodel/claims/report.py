"""``tcpmodel report``: gather the evidence, judge every claim, write the Markdown and artefacts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tcpmodel.claims.document import document
from tcpmodel.claims.evidence import FOLDER
from tcpmodel.claims.gather import gather
from tcpmodel.claims.judging import judge_all
from tcpmodel.traces.trace import write_atomic

# ---------------------------------------------------------------- the report


@dataclass
class Built:
    text: str  # the Markdown of seed-claims.md
    artefacts: dict[str, str]  # file name in FOLDER -> text
    verdicts: list[tuple[int, str, str]]  # (claim number, topic, verdict)


def build(specs: Path, experiments: Path, out: Path, quick: bool = False, progress=None) -> Built:
    """The report, to be written in ``out``: its Markdown, its artefacts and the verdicts."""

    ev = gather(Path(specs), Path(experiments), quick, progress)
    rows = judge_all(ev)
    return Built(document(ev, rows, out), ev.artefacts, [(r.claim.number, r.claim.topic, r.verdict) for r in rows])


def write(out: Path, text: str, artefacts: dict[str, str]) -> list[Path]:
    """Write the artefacts, then the report (each file whole or not at all); remove files of an
    earlier report that this one no longer has. The paths written."""

    folder = out / FOLDER
    written = []
    for name, content in sorted(artefacts.items()):
        write_atomic(folder / name, content.encode("utf-8"), "report artefact")
        written.append(folder / name)
    for old in sorted(folder.iterdir()):
        if old.is_file() and old.name not in artefacts and old.suffix in (".svg", ".jsonl", ".md"):
            old.unlink()
    write_atomic(out / "seed-claims.md", text.encode("utf-8"), "report")
    return written + [out / "seed-claims.md"]
