"""For tests that need network namespaces: skip only when this machine cannot make one at all."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tcpmodel.host.netns import leftover_namespaces, own_prefix


@pytest.fixture(scope="session")
def netns_capable():
    """Skip when namespaces are truly unavailable, judged without the code under test."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create network namespaces")
    if shutil.which("ip") is None:
        pytest.skip("needs the ip command (iproute2)")
    probe = f"tcpmodel-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"this machine cannot create network namespaces: {made.stderr.strip()}")
    subprocess.run(["ip", "netns", "delete", probe], check=True)


@pytest.fixture
def no_leftovers(netns_capable):
    """Every namespace this process creates during the test is gone afterwards."""
    yield
    assert leftover_namespaces(own_prefix()) == []


def child_processes() -> list[int]:
    """This process's live children (from /proc): a stack's process must be gone after its vector."""
    me, found = str(os.getpid()), []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == me and fields[0] != "Z":
                found.append(int(entry))
    return found
