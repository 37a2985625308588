"""SIGINT and SIGTERM at random moments of `conform` (issue 20), and a run killed outright.

lwIP runs as a process of its own (no namespace), Linux in a namespace per vector (root). A
signalled run exits 3 (or with the full run's code only once it is complete), prints only
verdicts the full run gives, leaves the report absent or whole (never its staging folder), and
leaves no process or namespace behind. A run killed by SIGKILL cannot clean up: the next run's
first namespace sweeps what it left (``netns.sweep_stale_namespaces``).
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tcpmodel.host.netns import NETNS_DIR, leftover_namespaces
from tests.conftest import REFERENCE, ROOT, require_stack
from tests.interrupt_support import MARK, files, last_line, leftovers, moments, processes_marked, remove

STOPPED = re.compile(r"^tcpmodel: (interrupted|terminated \(SIGTERM\))( .*)?$")
VECTORS = ",".join(["active.rule.closed_connect", "active.rule.synsent_close", "active.rule.synsent_abort", "passive.rule.listen_syn",
                    "active.ESTABLISHED.FIN.in_window", "active.ESTABLISHED.RST.in_window"])
CACHE = {"TCPMODEL_CACHE": os.environ.get("TCPMODEL_CACHE", "/tmp/ciclone/.cache-ci")}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    folder = tmp_path_factory.mktemp("conform-moments")
    yield folder
    remove(folder)


def verdicts(data: dict) -> dict[str, str]:
    return {v["vector"]: v["verdict"] for v in data["vectors"]}


@pytest.mark.parametrize("stack, vectors, count, seed", [
    ("lwip", VECTORS, 20, 30),
    ("linux", "active.rule.closed_connect,active.rule.synsent_close,passive.rule.listen_syn", 6, 31),
], ids=["lwip", "linux"])
def test_conform_at_random_moments(stack, vectors, count, seed, base, monkeypatch):
    monkeypatch.setenv("TCPMODEL_CACHE", CACHE["TCPMODEL_CACHE"])
    require_stack(stack)
    argv = ["conform", "--stack", stack, "--spec", str(REFERENCE), "--vectors", vectors, "--report", f"rep/{stack}.md", "--json",
            "--no-progress"]
    reference, runs = moments(argv, base / stack, count, seed, env=CACHE)
    assert reference.returncode in (0, 1), reference.describe()
    full = json.loads(reference.stdout)
    full_files = files(reference.folder / "rep")
    assert f"{stack}.md" in full_files and len(full["vectors"]) == len(vectors.split(","))
    finished = 0
    for run in runs:
        assert leftovers(run.folder) == [] and run.leftover_processes == [], run.describe()
        assert leftover_namespaces(f"tcpmodel-{run.pid}-") == [], run.describe()
        assert run.returncode in (3, reference.returncode), run.describe()
        written = files(run.folder / "rep")
        assert sorted(written) in ([], sorted(full_files)), f"{sorted(written)}: {run.describe()}"  # no report, or all of it
        if written:
            assert verdicts(json.loads(written[f"{stack}.json"])) == verdicts(full), run.describe()
        if run.returncode != 3:
            finished += 1
            assert written and verdicts(json.loads(run.stdout)) == verdicts(full), run.describe()
            continue
        assert STOPPED.match(last_line(run.stderr)), run.describe()
        if run.stdout:  # the vectors run so far, each with the full run's verdict
            data = json.loads(run.stdout)
            assert data["complete"] is False and data["stop_reason"].startswith(("interrupted", "terminated")), run.describe()
            assert all(verdicts(full)[name] == verdict for name, verdict in verdicts(data).items()), run.describe()
            assert len(data["vectors"]) < len(full["vectors"]), run.describe()
    assert finished < len(runs)


def test_a_namespace_left_by_a_killed_run_is_swept_by_the_next(tmp_path, monkeypatch):
    """The reproducer: a SIGKILLed `conform` left its namespace (and a process in it), and no later
    run removed it."""
    monkeypatch.setenv("TCPMODEL_CACHE", CACHE["TCPMODEL_CACHE"])
    require_stack("linux")
    env = {**os.environ, "PYTHONPATH": str(ROOT), MARK: "killed-run"}
    # a retransmission is waited for: the vector's child sits in its namespace for seconds
    killed = subprocess.Popen([sys.executable, "-m", "tcpmodel", "conform", "--stack", "linux", "--vectors",
                               "active.rule.synsent_retransmit", "--out", str(tmp_path / "runs"), "--no-progress"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (left := leftover_namespaces(f"tcpmodel-{killed.pid}-")) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # the child enters the namespace
    inside = subprocess.run(["ip", "netns", "pids", left[0]], capture_output=True, text=True, check=False).stdout.split()
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert (NETNS_DIR / left[0]).exists() and inside, "the killed run left its namespace and its child"
    nxt = subprocess.run([sys.executable, "-m", "tcpmodel", "conform", "--stack", "linux", "--vectors", "active.rule.closed_connect",
                          "--out", str(tmp_path / "runs2"), "--no-progress"], cwd=ROOT, env={**env, MARK: "next-run"},
                         capture_output=True, text=True, check=False)
    assert nxt.returncode == 0, nxt.stderr
    assert not (NETNS_DIR / left[0]).exists() and leftover_namespaces(f"tcpmodel-{killed.pid}-") == []
    deadline = time.monotonic() + 10
    while (alive := [pid for pid in inside if os.path.exists(f"/proc/{pid}")]) and time.monotonic() < deadline:
        time.sleep(0.05)  # killed by the sweep, then reaped by its new parent (no zombie)
    assert alive == [] and processes_marked("killed-run") == [] and processes_marked("next-run") == []
