"""The kernel experiments, in their quick modes: real measurements of Linux's TIME-WAIT."""

import json
import socket
import struct

import pytest

from tcpmodel.base.errors import InputError
from tcpmodel.cli.main import main
from tcpmodel.experiments.kernel import _rates, port_exhaustion, time_wait_duration
from tcpmodel.host.socktable import find, tcp_table
from tests.netns_support import netns_capable, no_leftovers  # noqa: F401 - fixtures


@pytest.mark.usefixtures("no_leftovers")
def test_the_fifth_connect_fails_when_four_ports_sit_in_time_wait():
    result = port_exhaustion(ports=4, quick=True)
    assert result["sysctls"] == {
        "net.ipv4.ip_local_port_range": "40000 40003",
        "net.ipv4.tcp_tw_reuse": "0",
        "net.ipv4.tcp_fin_timeout": "60",
    }
    assert result["connects"] == 4 and result["refused"] == 1
    assert result["client_ports"] == [40000, 40001, 40002, 40003]
    refusal = result["first_refusal"]
    assert refusal["connects_before"] == 4
    assert refusal["time_wait_ports"] == [40000, 40001, 40002, 40003]  # every port, in TIME-WAIT
    assert refusal["after_seconds"] < 5  # long before any TIME-WAIT could end


@pytest.mark.usefixtures("no_leftovers")
def test_connect_uses_an_even_number_of_ports():
    # Linux's __inet_hash_connect rounds the size of the range down to an even number.
    result = port_exhaustion(ports=3, quick=True)
    assert result["sysctls"]["net.ipv4.ip_local_port_range"] == "40000 40002"
    assert result["first_refusal"]["connects_before"] == 2
    assert len(result["client_ports"]) == 2 and set(result["client_ports"]) < {40000, 40001, 40002}


@pytest.mark.usefixtures("no_leftovers")
def test_only_the_active_closer_waits_and_the_kernel_timer_is_sixty_seconds():
    result = time_wait_duration(quick=True)
    assert result["seconds"] is None and result["held_at_least_seconds"] >= 1.0
    assert result["passive_closer_state"] == "gone (CLOSED)"
    assert 59.0 <= result["kernel_timer_at_entry_seconds"] <= 60.0  # TCP_TIMEWAIT_LEN, counting down
    fell = result["kernel_timer_at_entry_seconds"] - result["kernel_timer_after_seconds"]
    assert 0.9 <= fell <= 3.0
    assert result["time_wait_sysctls"]["net.ipv4.tcp_tw_reuse"] == "0"


@pytest.mark.usefixtures("no_leftovers")
def test_the_cli_records_a_quick_run(tmp_path, capsys):
    record = tmp_path / "runs" / "ports.json"
    argv = ["experiment", "port-exhaustion", "--quick", "--json", "--no-progress", "--record", str(record)]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads(record.read_text())
    assert printed == written
    assert written["command"] == f"tcpmodel experiment port-exhaustion --quick --ports 4 --record {record}"
    assert written["first_refusal"]["connects_before"] == 4
    assert [p.name for p in record.parent.iterdir()] == ["ports.json"]  # no temporary file left


@pytest.mark.parametrize(
    "argv, message",
    [
        (["experiment", "time-wait", "--ports", "4"], "belong to port-exhaustion"),
        (["experiment", "port-exhaustion", "--window", "10"], "at least one TIME-WAIT period"),
        (["experiment", "port-exhaustion", "--ports", "5000"], "from 1 to 1000"),
        (["experiment", "port-exhaustin"], "invalid choice"),
    ],
)
def test_bad_experiment_flags_exit_2_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1 and message in lines[0]


def test_without_root_the_cli_says_so_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert main(["experiment", "time-wait", "--quick", "--no-progress"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["tcpmodel: error: creating network namespaces needs root (run as root)"]


def test_a_too_short_poll_is_refused():
    with pytest.raises(InputError, match="polling interval"):
        time_wait_duration(poll=0)


def test_the_sustained_rate_leaves_out_the_first_burst():
    # Four ports, each back 61 s after its last use: bursts at 0, 61 and 122 s.
    times = [[burst + i * 0.001, 40000 + i] for burst in (0.0, 61.0, 122.0) for i in range(4)]
    rates = _rates({"connect_times": times, "client_ports": [40000, 40001, 40002, 40003], "window_seconds": 130})
    assert rates["sustained_rate_per_second"] == pytest.approx(8 / 122, rel=1e-3)
    assert rates["predicted_rate_per_second"] == pytest.approx(4 / 60)
    assert rates["port_reuse_seconds"]["min"] == pytest.approx(61.0)
    assert rates["window_rate_per_second"] == pytest.approx(12 / 130)


def test_the_socket_table_is_read_from_proc(tmp_path):
    sample = tmp_path / "tcp"
    lo = format(struct.unpack("=I", socket.inet_aton("127.0.0.1"))[0], "08X")  # 0100007F on little-endian
    sample.write_text(
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        f"   0: {lo}:1389 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0\n"
        f"   1: {lo}:9C40 {lo}:1389 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0\n"
    )
    table = tcp_table(str(sample))
    assert table[0].state_name == "LISTEN" and table[0].local == ("127.0.0.1", 5001)
    waiting = find(table, ("127.0.0.1", 40000), ("127.0.0.1", 5001))
    assert waiting.state_name == "TIME_WAIT" and waiting.timer == 3 and waiting.timer_seconds == 60.0
    assert find(table, ("127.0.0.1", 5001), ("127.0.0.1", 40000)) is None


# ---------------------------------------------------------------- experiments for the notes' claims


@pytest.mark.usefixtures("no_leftovers")
def test_two_writes_are_read_by_one_read():
    from tcpmodel.experiments.notes import message_boundaries

    result = message_boundaries()
    assert result["one_read"] == "helloworld" and result["reads_of_four"] == ["0123", "4567", "89"]
    data = [s["len"] for s in result["segments"] if s["from"] == "client" and s["len"]]
    assert data == [5, 5, 10]  # two writes, two segments, then one write of ten
    assert result["segments"][0] == {"from": "client", "flags": "SYN", "seq": 0, "ack": 0, "len": 0}


@pytest.mark.usefixtures("no_leftovers")
def test_with_fast_open_the_syn_carries_data():
    from tcpmodel.experiments.notes import syn_data

    result = syn_data()
    syn, synack = result["segments"][:2]
    assert syn["flags"] == "SYN" and syn["len"] == 5
    assert synack["flags"] == "SYN,ACK" and synack["ack"] == 6  # the SYN and its 5 octets
    assert result["server_read"] == "hello"


@pytest.mark.usefixtures("no_leftovers")
def test_server_time_waits_hold_no_descriptor_and_ports_run_out_per_destination():
    from tcpmodel.experiments.notes import time_wait_cost

    result = time_wait_cost()
    server, client = result["server"], result["client"]
    assert server["after"]["sockstat"]["tw"] - server["before"]["sockstat"]["tw"] == server["connections"]
    assert server["time_wait_on_server_port"] == server["connections"] and server["time_wait_elsewhere"] == 0
    assert server["after"]["fds"] == server["before"]["fds"]
    assert 0 < server["tw_sock_bytes"] < server["full_socket_bytes"]
    low, high = map(int, server["default_port_range"].split())
    assert 1024 <= low < high <= 65535
    assert client["third_connect_to_first"] == "EADDRNOTAVAIL"
    assert client["connect_to_second_port"] in client["time_wait_ports_to_first"] == client["ports_used"]


def test_the_notes_experiments_take_no_port_or_window_flags(capsys):
    assert main(["experiment", "syn-data", "--ports", "4"]) == 2
    assert "belong to port-exhaustion, not syn-data" in capsys.readouterr().err
