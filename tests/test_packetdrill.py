"""tcpmodel/packetdrill.py: the scripts make conform's user calls and follow packetdrill's numbering.

Each test pins the lines of one vector's script that a rule of the exporter decides; the scripts
were run under packetdrill on Linux by benchmarks/packetdrill_crosscheck.py (not by these tests).
"""

import pytest

from tcpmodel.language.spec import load_spec
from tcpmodel.vectors.generation import Step, Vector, generate
from tcpmodel.vectors.packetdrill import not_exported, script
from tests.conftest import REFERENCE

SPEC = load_spec(REFERENCE)
WINDOW = SPEC.constants["RCV.WND"]


@pytest.fixture(scope="module")
def vectors():
    return {v.name: v for v in generate(SPEC).vectors}


def body(vector) -> list[str]:
    """The script's lines without comments."""
    return [line for line in script(vector, WINDOW).splitlines() if not line.startswith("//")]


ACTIVE_OPEN = [
    "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3",
    "+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0",
    "+0 setsockopt(3, IPPROTO_TCP, TCP_NODELAY, [1], 4) = 0",
    "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0",
    "+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)",
    "+0 > S 0:0(0) <...>",
]


def test_close_is_a_shutdown_once_synchronized_and_a_close_before(vectors):
    assert body(vectors["active.rule.established_close"])[-2:] == ["+0 shutdown(3, SHUT_WR) = 0", "+0 > F. 1:1(0) ack 1"]
    assert body(vectors["active.rule.synrcvd_close"])[6:] == [
        "+0 < S 0:0(0) win 65535 <mss 1460>",
        "+0 > S. 0:0(0) ack 1 <...>",
        "+0 close(3) = 0",  # SYN-RECEIVED: the FIN goes at once (RFC 9293 §3.10.4)
        "+0 > F. 1:1(0) ack 1",
    ]


def test_an_aborts_reset_carries_the_ack_of_rcv_nxt(vectors):
    assert body(vectors["active.rule.abort_reset"]) == ACTIVE_OPEN + [
        "+0 < S 0:0(0) win 65535 <mss 1460>",
        "+0 > S. 0:0(0) ack 1 <...>",
        "+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0",
        "+0 close(3) = 0",
        "+0 > R. 1:1(0) ack 1",  # the spec's <SEQ=SND.NXT><CTL=RST>, with ACK=RCV.NXT
    ]


def test_a_retransmission_is_due_between_one_and_three_seconds_and_an_ack_within_half_a_second(vectors):
    assert body(vectors["active.rule.data_retransmit"])[6:] == [
        "+0 < S. 0:0(0) ack 1 win 65535 <mss 1460>",
        "+0~+0.5 > . 1:1(0) ack 1",
        "+0 write(3, ..., 1) = 1",
        "+0 > P. 1:2(1) ack 1",
        "+1~+3 > P. 1:2(1) ack 1",
    ]


def test_a_segment_to_a_closed_port_has_a_listener_that_was_and_absolute_numbers(vectors):
    assert body(vectors["active.rule.closed_no_ack"]) == [
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3",
        "+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0",
        "+0 bind(3, ..., ...) = 0",
        "+0 listen(3, 1) = 0",
        "+0 close(3) = 0",
        "+0 < S 0:0(0) win 65535 <mss 1460>",
        "+0 > R. 0:0(0) ack 1",  # <SEQ=0>: no ISN to be relative to
    ]


def test_the_passive_connection_is_accepted_and_the_listener_closed(vectors):
    lines = body(vectors["passive.rule.close_wait_close"])
    handshake = lines.index("+0 < . 1:1(0) ack 1 win 65535")
    assert lines[handshake + 1:handshake + 4] == [
        "+0 accept(3, ..., ...) = 4", "+0 setsockopt(4, IPPROTO_TCP, TCP_NODELAY, [1], 4) = 0", "+0 close(3) = 0"]
    assert "+0 shutdown(4, SHUT_WR) = 0" in lines


def test_a_crafted_syn_ack_becomes_the_testers_isn_for_packetdrill(vectors):
    # in SYN-SENT the crafted SYN-ACK is the first: packetdrill numbers the tester from it
    assert body(vectors["active.SYN-SENT.SYN-ACK.in_window"])[6:] == [
        "+0 < S. 4294966296:4294966296(0) ack 1 win 65535 <mss 1460>", "+0~+0.5 > . 1:1(0) ack 1"]
    # after a simultaneous open's SYN it is still the first SYN-ACK: the ACK is relative to it
    lines = body(vectors["active.SYN-RECEIVED.SYN-ACK.out_of_window"])
    assert lines[-2:] == ["+0 < S. 65536:65536(0) ack 1 win 65535 <mss 1460>", "+0~+0.5 > . 1:1(0) ack 4294901761"]
    assert (65536 + 4294901761) % 2**32 == 1  # the endpoint's RCV.NXT, 1 on the wire


def test_out_of_window_is_beyond_any_window_without_scaling(vectors):
    lines = body(vectors["active.CLOSE-WAIT.ACK.out_of_window"])
    assert lines[-2:] == [f"+0 < . {2 + 65535}:{2 + 65535}(0) ack 1 win 65535", "+0~+0.5 > . 1:1(0) ack 2"]
    # in SYN-SENT there is no window: the SYN goes where the model put it
    assert body(vectors["active.SYN-SENT.SYN.out_of_window"])[6] == "+0 < S 4294966300:4294966300(0) win 65535 <mss 1460>"


def test_calls_the_socket_api_cannot_make_are_not_exported(vectors):
    reasons = {}
    for vector in vectors.values():
        reasons.setdefault(not_exported(vector), []).append(vector.name)
    assert sorted(reasons, key=str) == sorted([None, "waits for a user timeout or TIME-WAIT",
                                               "makes a user call on a passive connection before accept() can return it"], key=str)
    assert "passive.rule.synrcvd_close" in reasons["makes a user call on a passive connection before accept() can return it"]
    assert all(v.startswith("passive.") for v in reasons["makes a user call on a passive connection before accept() can return it"])
    assert len(reasons["waits for a user timeout or TIME-WAIT"]) == 4
    listen = Step({"call": "LISTEN"}, [[]], ["closed_listen"], ["LISTEN"])
    send = Step({"call": "SEND", "len": 1}, [[]], [], ["LISTEN"])
    assert not_exported(Vector("passive.send_on_listener", "passive", "rule x", 0, 0, [listen, send])) == "sends on a listening socket"
