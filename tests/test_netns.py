"""Namespaces the project makes: created fresh, used, and always removed; the loopback capture."""

import os
import signal
import subprocess
import sys
import time

import dpkt
import pytest

from tcpmodel.base.errors import InputError
from tcpmodel.host.loopback import capture_loopback_connection
from tcpmodel.host.netns import (
    NETNS_DIR,
    leftover_namespaces,
    namespace,
    read_sysctl,
    set_sysctls,
)
from tests.netns_support import netns_capable, no_leftovers  # noqa: F401 - fixtures

pytestmark = pytest.mark.usefixtures("no_leftovers")


def network_namespace() -> str:
    return os.readlink("/proc/self/ns/net")


def links() -> str:
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout


def fail_inside(message: str):
    raise ValueError(message)


def test_a_namespace_is_fresh_has_lo_up_and_is_removed():
    with namespace() as ns:
        assert (NETNS_DIR / ns.name).exists()
        assert ns.name in leftover_namespaces()
        inside = ns.call(network_namespace)
        assert inside != network_namespace()
        assert ns.call(network_namespace) == inside  # every call enters the same namespace
        lo = ns.run(["ip", "-o", "link", "show", "lo"]).stdout
        assert "UP" in lo.split("<")[1].split(">")[0].split(",")
        assert [line.split(": ")[1] for line in ns.call(links).splitlines()] == ["lo"]  # nothing but lo
    assert not (NETNS_DIR / ns.name).exists()


def test_a_namespace_is_removed_when_the_block_raises():
    with pytest.raises(RuntimeError, match="on purpose"), namespace() as ns:
        name = ns.name
        assert (NETNS_DIR / name).exists()
        raise RuntimeError("on purpose")
    assert not (NETNS_DIR / name).exists()


def test_an_exception_in_the_child_reaches_the_caller_and_the_namespace_goes():
    with pytest.raises(ValueError, match="inside") as caught, namespace() as ns:
        ns.call(fail_inside, "inside")
    assert any("fail_inside" in note for note in caught.value.__notes__)
    assert not (NETNS_DIR / ns.name).exists()


def test_a_local_function_is_refused_with_a_clear_message():
    with namespace() as ns, pytest.raises(TypeError, match="module-level function"):
        ns.call(lambda: 1)


SLEEPER = """
import signal, sys, time
from tcpmodel.host.netns import namespace
signal.signal(signal.SIGINT, signal.default_int_handler)  # a shell may have ignored it
with namespace() as ns:
    print(ns.name, flush=True)
    ns.call(time.sleep, 60) if sys.argv[1] == "child" else time.sleep(60)
"""


@pytest.mark.parametrize("where", ["parent", "child"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_still_removes_the_namespace(signum, where):
    process = subprocess.Popen(
        [sys.executable, "-c", SLEEPER, where],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        name = process.stdout.readline().strip()
        assert name.startswith(f"tcpmodel-{process.pid}-"), process.stderr.read()
        time.sleep(0.5)  # let the child (if any) enter the namespace
        process.send_signal(signum)
        process.wait(20)
    finally:
        process.kill()
        process.wait()
    assert process.returncode in (-signum, 128 + signum)
    assert not (NETNS_DIR / name).exists()
    assert leftover_namespaces(f"tcpmodel-{process.pid}-") == []


def test_sysctls_are_pinned_per_namespace():
    host = read_sysctl("net.ipv4.tcp_fin_timeout")
    pinned = "17" if host != "17" else "18"
    with namespace() as ns:
        got = set_sysctls(ns, {"net.ipv4.tcp_fin_timeout": pinned, "net.ipv4.ip_local_port_range": (40000, 40009)})
        assert got == {"net.ipv4.tcp_fin_timeout": pinned, "net.ipv4.ip_local_port_range": "40000 40009"}
        assert ns.call(read_sysctl, "net.ipv4.tcp_fin_timeout") == pinned
    assert read_sysctl("net.ipv4.tcp_fin_timeout") == host


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"kernel.hostname": "x"}, "not a per-namespace sysctl"),
        ({"net.ipv4.no_such_thing": 1}, "no such sysctl"),
        ({"net.ipv4.ip_local_port_range": (40010, 40000)}, "the kernel refused '40010 40000'"),
    ],
)
def test_bad_sysctls_are_one_line_input_errors(settings, message):
    with namespace() as ns, pytest.raises(InputError, match=message) as caught:
        set_sysctls(ns, settings)
    assert "\n" not in str(caught.value)


FLAGS = {"S": dpkt.tcp.TH_SYN, "A": dpkt.tcp.TH_ACK, "F": dpkt.tcp.TH_FIN, "R": dpkt.tcp.TH_RST}


def segments(path):
    """(time, from port, flags as letters, payload) of each TCP segment in a pcap; its link type."""
    with open(path, "rb") as f:
        reader = dpkt.pcap.Reader(f)
        out = []
        for stamp, frame in reader:
            ethernet = dpkt.ethernet.Ethernet(frame)
            assert ethernet.src == ethernet.dst == b"\0" * 6  # loopback's zero Ethernet header
            tcp = ethernet.data.data
            letters = "".join(k for k, bit in FLAGS.items() if tcp.flags & bit)
            out.append((stamp, tcp.sport, letters, tcp.seq, tcp.ack, bytes(tcp.data)))
        return reader.datalink(), out


def test_the_capture_holds_the_whole_connection_once(tmp_path):
    path = tmp_path / "echo.pcap"
    before = time.time()
    result = capture_loopback_connection(path, data=b"hello, loopback", port=5000)
    after = time.time()
    link, seen = segments(path)
    assert link == dpkt.pcap.DLT_EN10MB
    assert result["frames"] == len(seen) and result["server_port"] == 5000
    client, server = result["client_port"], 5000
    shapes = [(port, letters, payload) for _, port, letters, _, _, payload in seen]
    assert shapes[0] == (client, "S", b"")
    assert shapes[1] == (server, "SA", b"")
    assert (client, "A", b"hello, loopback") in shapes
    assert (server, "A", b"hello, loopback") in shapes
    client_fin = shapes.index((client, "AF", b""))
    server_fin = shapes.index((server, "AF", b""))
    assert client_fin < server_fin  # the client closed first
    assert shapes[-1] == (client, "A", b"")  # the last ACK, of the server's FIN, was captured
    assert seen[-1][4] == seen[server_fin][3] + 1
    assert len({s[1:] for s in seen}) == len(seen)  # no frame twice (lo shows each one leaving and arriving)
    stamps = [s[0] for s in seen]
    assert stamps == sorted(stamps) and before - 1 <= stamps[0] <= stamps[-1] <= after + 1
    assert not any("R" in letters for _, letters, _ in shapes)


def test_capture_input_is_checked(tmp_path):
    with pytest.raises(InputError, match="must not be empty"):
        capture_loopback_connection(tmp_path / "x.pcap", data=b"")
    with pytest.raises(InputError, match="port must be"):
        capture_loopback_connection(tmp_path / "x.pcap", port=70000)
    assert not (tmp_path / "x.pcap").exists()
