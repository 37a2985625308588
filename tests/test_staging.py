"""Output whole or absent (issue 20): multi-file outputs are staged and moved into place together
(``base.staging``), and an output that cannot be written is bad input (exit 2, one line)."""

import errno
import os
import shutil
import subprocess
import sys

import pytest

import tcpmodel.base.staging as staging
from tcpmodel.base.errors import InputError
from tcpmodel.base.staging import PREFIX, Staging, sweep_stale
from tcpmodel.claims.report import write as write_report
from tcpmodel.cli.main import main
from tests.conftest import REFERENCE, ROOT, VARIANTS

SMALL = ["--incarnations", "1", "--no-loss", "--no-duplication", "--no-reordering"]


def tree(folder):
    """Every path under ``folder`` with its content (None for a folder)."""
    return {str(p.relative_to(folder)): (None if p.is_dir() else p.read_bytes()) for p in sorted(folder.rglob("*"))}


def failing_open(monkeypatch, after: int, number: int = errno.ENOSPC):
    """Staging's writes fail from the ``after``-th on, as on a full disk."""
    calls = [0]

    def fake(path, mode="r", *args, **kwargs):
        calls[0] += 1
        if calls[0] > after:
            raise OSError(number, os.strerror(number), str(path))
        return open(path, mode, *args, **kwargs)

    monkeypatch.setattr(staging, "open", fake, raising=False)
    return calls


# ---------------------------------------------------------------- the staging


def test_nothing_reaches_the_folder_before_commit_and_everything_after(tmp_path):
    out = tmp_path / "out"
    (out / "index").mkdir(parents=True)
    (out / "index" / "old.svg").write_text("an earlier run's")
    (out / "kept.txt").write_text("not ours")
    with Staging(out, "test") as stage:
        assert stage.write("index/a.svg", "A") == out / "index" / "a.svg"
        stage.write("index.md", "the index")
        assert tree(out) == {"index": None, "index/old.svg": b"an earlier run's", "kept.txt": b"not ours",
                             stage.folder.name: None, **{f"{stage.folder.name}/{k}": v for k, v in
                                                          {"index": None, "index/a.svg": b"A", "index.md": b"the index"}.items()}}
        stage.commit()
    assert tree(out) == {"index": None, "index/a.svg": b"A", "index.md": b"the index", "kept.txt": b"not ours"}


def test_folders_are_moved_before_files(tmp_path, monkeypatch):
    moved, rename, replace = [], os.rename, os.replace
    monkeypatch.setattr(staging.os, "rename", lambda a, b: (moved.append(os.path.basename(b)), rename(a, b)))
    monkeypatch.setattr(staging.os, "replace", lambda a, b: (moved.append(os.path.basename(b)), replace(a, b)))
    with Staging(tmp_path, "test") as stage:
        stage.write("report.md", "index, written first")
        stage.write("report/a.svg", "A")
        stage.commit()
    assert moved == ["report", "report.md"]


@pytest.mark.parametrize("how", ["error", "interrupt", "no commit"])
def test_leaving_without_commit_leaves_the_folder_as_it_was(how, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("before")
    exception = {"error": InputError("bad"), "interrupt": KeyboardInterrupt(), "no commit": None}[how]
    try:
        with Staging(out, "test") as stage:
            stage.write("a.txt", "after")
            stage.write("b.txt", "new")
            if exception is not None:
                raise exception
    except (InputError, KeyboardInterrupt) as caught:
        assert caught is exception
    assert tree(out) == {"a.txt": b"before"}


def test_a_folder_made_for_the_output_goes_again(tmp_path):
    with pytest.raises(KeyboardInterrupt), Staging(tmp_path / "new" / "out", "test") as stage:
        stage.write("a.txt", "x")
        raise KeyboardInterrupt
    assert tree(tmp_path) == {"new": None}  # only the folder it had to make itself is removed


def test_a_staging_folder_of_a_killed_process_is_swept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    stale = tmp_path / f"{PREFIX}{int(dead.stdout)}-abc"
    live = tmp_path / f"{PREFIX}{os.getppid()}-abc"
    for folder in (stale, live):
        (folder / "half").mkdir(parents=True)
    with Staging(tmp_path, "test") as stage:
        stage.commit()
    assert not stale.exists() and live.exists()
    assert sweep_stale(tmp_path) == []


def test_a_name_outside_the_folder_is_refused(tmp_path):
    with Staging(tmp_path, "test") as stage:
        for name in ("../x", "/etc/x", ""):
            with pytest.raises(InputError, match="is not a file name inside the folder"):
                stage.write(name, "x")
    assert tree(tmp_path) == {}


def test_a_failed_write_names_the_file_it_was_for(tmp_path, monkeypatch):
    failing_open(monkeypatch, after=2)
    with pytest.raises(InputError) as caught, Staging(tmp_path, "vectors") as stage:
        for n in range(5):
            stage.write(f"{n}.pkt", "x")
    assert str(caught.value) == f"{tmp_path / '2.pkt'}: cannot write the vectors: No space left on device"
    assert tree(tmp_path) == {}


# ---------------------------------------------------------------- the commands


def one_error(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert captured.out == "" and len(lines) == 1 and lines[0].startswith("tcpmodel: error: "), captured.err
    return lines[0]


@pytest.mark.parametrize("fmt", ["packetdrill", "jsonl"])
def test_vectors_on_a_full_disk_is_bad_input_and_leaves_the_folder_as_it_was(fmt, tmp_path, monkeypatch, capsys):
    """The reproducer: a full disk left 16 of 875 packetdrill scripts, and exit 1 with a traceback."""
    out = tmp_path / "v"
    out.mkdir()
    (out / "earlier.pkt").write_text("an earlier run's")
    failing_open(monkeypatch, after=16 if fmt == "packetdrill" else 0)
    assert main(["vectors", str(REFERENCE), "--out", str(out), "--format", fmt]) == 2
    assert "cannot write the vectors: No space left on device" in one_error(capsys)
    assert tree(out) == {"earlier.pkt": b"an earlier run's"}


def test_the_claims_report_on_a_full_disk_leaves_the_earlier_one(tmp_path, monkeypatch):
    """The reproducer: a full disk left 8 report artefacts and no seed-claims.md."""
    artefacts = {f"{n}.svg": f"<svg>{n}</svg>" for n in range(10)}
    write_report(tmp_path, "# the earlier report", {"old.svg": "<svg/>"})
    before = tree(tmp_path)
    failing_open(monkeypatch, after=8)
    with pytest.raises(InputError, match=r"seed-claims/8.svg: cannot write report artefact: No space left on device$"):
        write_report(tmp_path, "# the report", artefacts)
    assert tree(tmp_path) == before
    monkeypatch.undo()
    write_report(tmp_path, "# the report", artefacts)
    assert sorted(tree(tmp_path)) == sorted(["seed-claims", "seed-claims.md", *(f"seed-claims/{n}" for n in artefacts)])


def test_counterexamples_that_cannot_be_written_are_bad_input(tmp_path, monkeypatch, capsys):
    failing_open(monkeypatch, after=3)  # fixed_isn breaks three properties: six files
    out = tmp_path / "ce"
    assert main(["check", str(VARIANTS / "fixed_isn.toml"), "--out", str(out)]) == 2
    assert "cannot write the counterexamples: No space left on device" in one_error(capsys)
    assert not out.exists()


@pytest.mark.parametrize("number", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_an_export_that_cannot_be_written_is_bad_input(number, tmp_path, monkeypatch, capsys):
    failing_open(monkeypatch, after=1, number=number)
    assert main(["export", str(REFERENCE), *SMALL, "--format", "tla", "--out", str(tmp_path)]) == 2
    assert f"cannot write the tla model: {os.strerror(number)}" in one_error(capsys)
    assert tree(tmp_path) == {}


def test_vectors_on_a_real_full_file_system(tmp_path):
    """A 64 KiB tmpfs, mounted in a mount namespace of the test's own (root): the packetdrill
    scripts do not fit, and nothing of them is left there."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("mounting a small tmpfs needs root and unshare (util-linux)")
    disk = tmp_path / "disk"
    disk.mkdir()
    script = (f'mount -t tmpfs -o size=64k tmpfs "{disk}" && "{sys.executable}" -m tcpmodel vectors "{REFERENCE}" '
              f'--format packetdrill --out "{disk}/pkt"; echo "exit $?"; ls -A "{disk}"')
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, cwd=ROOT, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout == "exit 2\n", done.stdout + done.stderr  # and `ls -A` found the tmpfs empty
    [line] = done.stderr.splitlines()
    assert line.startswith(f"tcpmodel: error: {disk}/pkt/") and line.endswith(": cannot write the vectors: No space left on device")
