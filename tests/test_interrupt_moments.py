"""SIGINT and SIGTERM at random moments of `check`, `vectors` and `report` (issue 20).

Each command is run once to its end, then 20 or more times with a signal at a seeded random moment
over that run (``interrupt_support``). A signalled run must exit 3, or with the full run's code
only if it got as far (a violation found is a result: exit 1); print nothing that disagrees with
the full run (a verdict it did not reach, a coverage of vectors it did not write); and leave its
output folder absent or exactly as the full run leaves it, with no staging folder or process
behind. `conform` is in tests/test_conform_interrupts.py.
"""

import json
import re

import pytest

from tests.conftest import REFERENCE, ROOT, VARIANTS
from tests.interrupt_support import files, last_line, leftovers, moments, remove

STOPPED = re.compile(r"^tcpmodel: (interrupted|terminated \(SIGTERM\))( .*)?$")


def assert_clean(run):
    assert leftovers(run.folder) == [], run.describe()
    assert run.leftover_processes == [], run.describe()


def assert_stopped_line(run):
    """A run cut short ends with one line on stderr saying why."""
    assert run.returncode == 3, run.describe()
    assert STOPPED.match(last_line(run.stderr)), run.describe()


def comparable(check_json: dict) -> dict:
    return {k: v for k, v in check_json.items() if k not in ("seconds", "memory")}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    folder = tmp_path_factory.mktemp("moments")
    yield folder
    remove(folder)


@pytest.mark.parametrize("spec, seed", [(REFERENCE, 20), (VARIANTS / "fixed_isn.toml", 21)], ids=["holds", "violated"])
def test_check_at_random_moments(spec, seed, base):
    argv = ["check", str(spec), "--json", "--out", "ce"] + (["--incarnations", "1", "--no-duplication"] if spec == REFERENCE else [])
    reference, runs = moments(argv, base / f"check-{seed}", 12, seed)
    assert reference.returncode == (0 if spec == REFERENCE else 1)
    full = json.loads(reference.stdout)
    full_files = files(reference.folder / "ce")
    verdicts = {p["name"]: p for p in full["properties"]}
    finished = 0
    for run in runs:
        assert_clean(run)
        assert run.returncode in (3, reference.returncode), run.describe()
        written = files(run.folder / "ce")
        assert all(written[name] == full_files[name] for name in written), run.describe()  # each whole, none altered
        assert {n.removesuffix(".jsonl") for n in written if n.endswith(".jsonl")} == {n.removesuffix(".svg") for n in written if n.endswith(".svg")}
        if not run.stdout:  # cut short before a result existed
            assert_stopped_line(run)
            assert written == {}, run.describe()
            continue
        data = json.loads(run.stdout)
        if run.returncode == reference.returncode and data["complete"]:
            finished += 1
            assert comparable(data) == comparable(full) and written == full_files, run.describe()
            continue
        assert data["complete"] is False or run.returncode == 3, run.describe()
        # the result says why it is incomplete; stderr adds a line only when no counterexample was written
        assert run.stderr == "" or STOPPED.match(run.stderr.rstrip("\n")), run.describe()
        assert data["states"] <= full["states"], run.describe()
        for p in data["properties"]:
            assert p["holds"] in (None, verdicts[p["name"]]["holds"]), run.describe()  # never a verdict the full run does not give
            if p["holds"] is False:
                assert p["counterexample"]["steps"] == verdicts[p["name"]]["counterexample"]["steps"], run.describe()
        if data["complete"] is False:
            assert data["stop_reason"].startswith(("interrupted", "terminated (SIGTERM)")), run.describe()
    assert finished < len(runs)  # the moments do fall inside the run


def test_vectors_at_random_moments(base):
    """The reproducer: Ctrl-C wrote 873-880 of the 881 vectors and printed 100 % coverage."""
    reference, runs = moments(["vectors", str(REFERENCE), "--format", "packetdrill", "--out", "pkt", "--json"], base / "vectors", 20, 22)
    assert reference.returncode == 0
    full_files = files(reference.folder / "pkt")
    assert len(full_files) == 875
    for run in runs:
        assert_clean(run)
        written = files(run.folder / "pkt")
        assert written in ({}, full_files), f"{len(written)} files: {run.describe()}"
        if run.returncode == 0:
            assert run.stdout == reference.stdout and written == full_files, run.describe()
        else:
            assert_stopped_line(run)
            assert run.stdout == "", run.describe()


def test_report_at_random_moments(base):
    """The reproducer: Ctrl-C in the first seconds wrote "4 hold, 5 with a correction, 7 do not
    hold" (instead of 9 and 7) with exit 0."""
    reference, runs = moments(["report", "--quick", "--specs", str(ROOT / "specs"), "--out", "r", "--no-progress"], base / "report", 20, 23)
    assert reference.returncode == 0 and "claims:    16 (9 holds, 7 holds with a correction)" in reference.stdout
    full_files = files(reference.folder / "r")
    assert "seed-claims.md" in full_files
    for run in runs:
        assert_clean(run)
        written = files(run.folder / "r")
        assert written in ({}, full_files), f"{sorted(written)}: {run.describe()}"
        if run.returncode == 0:
            assert run.stdout == reference.stdout and written == full_files, run.describe()
        else:
            assert_stopped_line(run)
            assert run.stdout == "", run.describe()
