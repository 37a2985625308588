"""``tcpmodel report``: gather the evidence, judge every claim, write the Markdown and artefacts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tcpmodel.base.staging import Staging
from tcpmodel.claims.document import document
from tcpmodel.claims.evidence import FOLDER
from tcpmodel.claims.gather import gather
from tcpmodel.claims.judging import judge_all

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
    """Write the artefacts into ``out/seed-claims/`` and the report ``out/seed-claims.md``, all or
    none (``base.staging``): the folder is replaced whole (no file of an earlier report stays),
    and the report is put in place after it. The paths written."""

    with Staging(out, "report") as stage:
        written = [stage.write(f"{FOLDER}/{name}", content, "report artefact") for name, content in sorted(artefacts.items())]
        written.append(stage.write("seed-claims.md", text, "report"))
        stage.commit()
    return written
