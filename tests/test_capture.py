"""Captures: pcap and pcapng files built here byte by byte, every link type, both IP versions,
truncated and foreign files, and the split into connections and incarnations."""

import io
import socket
import struct
import tempfile
from pathlib import Path

import dpkt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcpmodel.base.errors import InputError
from tcpmodel.base.flags import FLAG_BITS
from tcpmodel.traces.capture import CapturedSegment, read_capture, to_trace
from tcpmodel.traces.packets import TcpPacket, ethernet_frame, ip_packet
from tcpmodel.traces.pcap import ethernet_frames, write_pcap
from tcpmodel.traces.trace import SegmentEvent, read_trace, write_trace

FIN, SYN, RST, PSH, ACK = (FLAG_BITS[n] for n in ("FIN", "SYN", "RST", "PSH", "ACK"))
BASE = 1_700_000_000  # seconds: absolute capture times are large, relative ones small
MSS = bytes.fromhex("020405b4")

# ------------------------------------------------------------ packets, by hand


def tcp_header(sport, dport, seq, ack, flags, win=65535, options=b""):
    return struct.pack(">HHIIBBHHH", sport, dport, seq, ack, (5 + len(options) // 4) << 4, flags, win, 0, 0) + options


def ipv4(src, dst, payload, protocol=6, fragment=0, total=None):
    total = 20 + len(payload) if total is None else total
    header = struct.pack(">BBHHHBBH4s4s", 0x45, 0, total, 1, fragment, 64, protocol, 0, socket.inet_aton(src), socket.inet_aton(dst))
    return header + payload


def ipv6(src, dst, payload, next_header=6):
    addresses = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)
    header = struct.pack(">IHBB16s16s", 0x60000000, len(payload), next_header, 64, *addresses)
    return header + payload


ADDRESSES = {4: ("10.0.0.1", "10.0.0.2"), 6: ("2001:db8::1", "2001:db8::2")}
SHOWN = {4: ("10.0.0.1:40000", "10.0.0.2:80"), 6: ("[2001:db8::1]:40000", "[2001:db8::2]:80")}


def handshake(version):
    """SYN (with MSS), SYN-ACK, and an ACK carrying 5 octets, as IP packets, client 40000 -> 80."""
    a, b = ADDRESSES[version]
    wrap = ipv4 if version == 4 else ipv6
    return [
        wrap(a, b, tcp_header(40000, 80, 1000, 0, SYN, 64240, MSS)),
        wrap(b, a, tcp_header(80, 40000, 5000, 1001, SYN | ACK, 65160, MSS)),
        wrap(a, b, tcp_header(40000, 80, 1001, 5001, PSH | ACK, 502) + b"hello"),
    ]


EXPECTED = [
    CapturedSegment(0.0, 0, SYN, 1000, 0, 64240, 0, "020405b4"),
    CapturedSegment(0.25, 1, SYN | ACK, 5000, 1001, 65160, 0, "020405b4"),
    CapturedSegment(0.5, 0, PSH | ACK, 1001, 5001, 502, 5, ""),
]
TIMES = [(BASE, 0), (BASE, 250000), (BASE, 500000)]  # seconds, microseconds


def link(linktype, packet, big_endian_family=False):
    """Wrap an IP packet in the link-layer header of ``linktype``."""
    version = packet[0] >> 4
    ethertype = 0x0800 if version == 4 else 0x86DD
    if linktype == 1:
        return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + struct.pack(">H", ethertype) + packet
    if linktype in (101, 228, 229):
        return packet
    if linktype == 113:  # packet type, ARPHRD_ETHER, address length, address, protocol
        return struct.pack(">HHH8sH", 0, 1, 6, b"\x02\x00\x00\x00\x00\x01", ethertype) + packet
    if linktype == 276:  # protocol, reserved, interface index, ARPHRD_ETHER, packet type, address length, address
        return struct.pack(">HHIHBB8s", ethertype, 0, 3, 1, 4, 6, b"\x02\x00\x00\x00\x00\x01") + packet
    if linktype == 0:
        family = 2 if version == 4 else 30
        return struct.pack(">I" if big_endian_family else "<I", family) + packet
    raise AssertionError(linktype)


# ------------------------------------------------------------ files, by hand


def pcap_file(linktype, records, order="<", nano=False, modified=False, snaplen=65535):
    """A pcap file: records are (seconds, fraction, frame) or (seconds, fraction, frame, original length)."""
    magic = 0xA1B2CD34 if modified else 0xA1B23C4D if nano else 0xA1B2C3D4
    out = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)
    for seconds, fraction, frame, *original in records:
        out += struct.pack(order + "IIII", seconds, fraction, len(frame), original[0] if original else len(frame))
        if modified:
            out += struct.pack(order + "IHBB", 1, 0x0800, 0, 0)
        out += frame
    return out


def block(order, kind, body):
    body += b"\x00" * (-len(body) % 4)
    return struct.pack(order + "II", kind, len(body) + 12) + body + struct.pack(order + "I", len(body) + 12)


def option(order, code, value):
    return struct.pack(order + "HH", code, len(value)) + value + b"\x00" * (-len(value) % 4)


def section(order):
    return block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def interface(order, linktype, resolution=None, shift=None):
    options = b""
    if resolution is not None:
        options += option(order, 9, bytes([resolution]))
    if shift is not None:
        options += option(order, 14, struct.pack(order + "q", shift))
    if options:
        options += option(order, 0, b"")
    return block(order, 1, struct.pack(order + "HHI", linktype, 0, 0) + options)


def enhanced(order, interface_id, ticks, frame):
    return block(order, 6, struct.pack(order + "IIIII", interface_id, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), len(frame)) + frame)


def obsolete_packet(order, interface_id, ticks, frame):
    return block(order, 2, struct.pack(order + "HHIIII", interface_id, 0, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), len(frame)) + frame)


def simple_packet(order, frame):
    return block(order, 3, struct.pack(order + "I", len(frame)) + frame)


def write(tmp_path, data, name="c.pcap"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def only_connection(capture):
    assert capture.error is None
    assert len(capture.connections) == 1
    return capture.connections[0]


# ------------------------------------------------------------ link types, IP versions, formats

LINKS = [(0, 4), (0, 6), (1, 4), (1, 6), (101, 4), (101, 6), (113, 4), (113, 6), (228, 4), (229, 6), (276, 4), (276, 6)]


@pytest.mark.parametrize("linktype,version", LINKS)
def test_every_link_type_and_ip_version(tmp_path, linktype, version):
    frames = [link(linktype, p) for p in handshake(version)]
    path = write(tmp_path, pcap_file(linktype, [(s, f, frame) for (s, f), frame in zip(TIMES, frames, strict=False)]))
    capture = read_capture(path)
    connection = only_connection(capture)
    assert capture.skipped == 0
    assert (connection.client, connection.server) == SHOWN[version]
    assert connection.incarnation == 0 and connection.saw_open
    assert list(connection.segments) == EXPECTED


@pytest.mark.parametrize("version", [4, 6])
def test_loopback_family_in_big_endian(tmp_path, version):
    frames = [link(0, p, big_endian_family=True) for p in handshake(version)]
    path = write(tmp_path, pcap_file(0, [(s, f, frame) for (s, f), frame in zip(TIMES, frames, strict=False)]))
    assert list(only_connection(read_capture(path)).segments) == EXPECTED


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_pcap_byte_orders_and_resolutions(tmp_path, order, nano):
    frames = [link(1, p) for p in handshake(4)]
    records = [(BASE, 999_999_999 if nano else 999_999, frames[0]), (BASE + 1, 0, frames[1]), (BASE + 1, 3, frames[2])]
    path = write(tmp_path, pcap_file(1, records, order=order, nano=nano))
    times = [s.t for s in only_connection(read_capture(path)).segments]
    # one and four ticks after the first packet, exactly: no rounding through absolute float times
    assert times == ([0.0, 1e-9, 4e-9] if nano else [0.0, 1e-6, 4e-6])


def test_modified_pcap_format(tmp_path):
    frames = [link(1, p) for p in handshake(6)]
    path = write(tmp_path, pcap_file(1, [(s, f, frame) for (s, f), frame in zip(TIMES, frames, strict=False)], modified=True))
    assert list(only_connection(read_capture(path)).segments) == EXPECTED


@pytest.mark.parametrize("order", ["<", ">"])
def test_pcapng_sections_interfaces_and_block_kinds(tmp_path, order):
    v4, v6 = handshake(4), handshake(6)
    data = section(order)
    data += interface(order, 1)  # microseconds by default
    data += block(order, 0xABC, b"some block this reader ignores")
    data += interface(order, 101, resolution=9)  # nanoseconds
    data += interface(order, 147)  # a link type that is not supported: its packets are skipped
    data += enhanced(order, 0, BASE * 10**6, link(1, v4[0]))
    data += enhanced(order, 1, BASE * 10**9 + 250_000_000, v6[0])
    data += obsolete_packet(order, 0, BASE * 10**6 + 500_000, link(1, v4[1]))
    data += simple_packet(order, link(1, v4[2]))  # no timestamp: skipped
    data += enhanced(order, 2, BASE * 10**6, b"\x00" * 30)
    data += section(order)  # a new section forgets the interfaces
    data += interface(order, 1, resolution=0x80 | 10)  # 1/1024 s
    data += enhanced(order, 0, BASE * 1024 + 768, link(1, v4[2]))
    capture = read_capture(write(tmp_path, data, "c.pcapng"))
    assert capture.error is None and capture.skipped == 2
    four, six = capture.connections
    assert [s.t for s in four.segments] == [0.0, 0.5, 0.75]
    assert list(four.segments)[1:] == [
        CapturedSegment(0.5, 1, SYN | ACK, 5000, 1001, 65160, 0, "020405b4"),
        CapturedSegment(0.75, 0, PSH | ACK, 1001, 5001, 502, 5, ""),
    ]
    assert six.client == "[2001:db8::1]:40000" and [s.t for s in six.segments] == [0.25]


def test_pcapng_interface_time_offsets(tmp_path):
    packets = [link(1, p) for p in handshake(4)]
    data = section(">") + interface(">", 1, shift=-5) + interface(">", 1, resolution=3, shift=BASE)
    data += enhanced(">", 0, (BASE + 5) * 10**6, packets[0]) + enhanced(">", 1, 250, packets[1])
    capture = read_capture(write(tmp_path, data, "c.pcapng"))
    assert [s.t for s in only_connection(capture).segments] == [0.0, 0.25]


def test_pcapng_interface_with_an_empty_resolution_option(tmp_path):
    bad = block("<", 1, struct.pack("<HHI", 1, 0, 0) + option("<", 9, b"") + option("<", 0, b""))
    path = write(tmp_path, section("<") + bad, "c.pcapng")
    capture = read_capture(path)
    assert capture.error == f"{path}: offset 28: bad pcapng block of type 0x1: a time resolution option of 0 octets, not 1"


def test_pcapng_written_by_dpkt(tmp_path):
    buffer = io.BytesIO()
    writer = dpkt.pcapng.Writer(buffer, snaplen=65535, linktype=1)
    for (seconds, micro), packet in zip(TIMES, handshake(4), strict=False):
        writer.writepkt_time(link(1, packet), seconds + micro / 1e6)
    capture = read_capture(write(tmp_path, buffer.getvalue(), "c.pcapng"))
    assert list(only_connection(capture).segments) == EXPECTED


# ------------------------------------------------------------ what is skipped, and lengths


def test_packets_that_are_not_tcp_segments_are_skipped_and_counted(tmp_path):
    a, b = ADDRESSES[4]
    c, d = ADDRESSES[6]
    syn = tcp_header(40000, 80, 1000, 0, SYN)
    hop_by_hop = bytes([60, 0]) + b"\x00" * 6  # next: destination options
    destination_options = bytes([6, 1]) + b"\x00" * 14  # next: TCP; 16 octets
    frames = [
        ipv4(a, b, struct.pack(">HHHH", 53, 53, 8, 0), protocol=17),  # UDP
        ipv4(a, b, syn, fragment=185),  # a later fragment whose octets look like a TCP header
        ipv6(c, d, bytes([6, 0]) + struct.pack(">HI", 185 << 3, 7) + syn, next_header=44),  # a later IPv6 fragment
        ipv4(a, b, syn[:12]),  # TCP header not captured whole
        ipv4(a, b, syn)[:30],  # snapshot cut inside the TCP header
        b"\x45\x00",  # not even an IP header
        ipv6(c, d, hop_by_hop + destination_options + syn, next_header=0),  # kept: TCP behind two extension headers
        ipv6(c, d, bytes([6, 0]) + struct.pack(">HI", 1, 7) + syn, next_header=44),  # kept: the first fragment
    ]
    records = [(BASE, 0, link(1, frame)) for frame in frames]
    records.append((BASE, 0, b"\xff" * 6 + b"\x02" * 6 + b"\x08\x06" + b"\x00" * 28))  # ARP
    capture = read_capture(write(tmp_path, pcap_file(1, records)))
    assert capture.skipped == 7
    (connection,) = capture.connections
    assert connection.client == "[2001:db8::1]:40000"
    assert [(s.flags, s.seq) for s in connection.segments] == [(SYN, 1000), (SYN, 1000)]


def test_length_comes_from_the_ip_header_when_the_snapshot_cut_the_payload(tmp_path):
    a, b = ADDRESSES[4]
    c, d = ADDRESSES[6]
    data = tcp_header(40000, 80, 1, 2, ACK, options=MSS) + b"x" * 1000
    records = [
        (BASE, 0, link(1, ipv4(a, b, data))[:80], 1054),
        (BASE, 0, link(1, ipv6(c, d, data))[:80], 1074),
        (BASE, 0, link(1, ipv4(a, b, data, total=0))),  # length left to segmentation offload
    ]
    capture = read_capture(write(tmp_path, pcap_file(1, records, snaplen=80)))
    assert [s.length for c in capture.connections for s in c.segments] == [1000, 1000, 1000]
    assert all(s.options_hex == "020405b4" for c in capture.connections for s in c.segments)


def test_ethernet_vlan_tags_are_skipped(tmp_path):
    frame = link(1, handshake(4)[0])
    tagged = frame[:12] + b"\x88\xa8\x00\x05" + b"\x81\x00\x00\x07" + frame[12:]
    capture = read_capture(write(tmp_path, pcap_file(1, [(BASE, 0, tagged)])))
    assert list(only_connection(capture).segments) == EXPECTED[:1]


# ------------------------------------------------------------ broken and foreign files


def three_packet_pcap():
    frames = [link(1, p) for p in handshake(4)]
    data = pcap_file(1, [(s, f, frame) for (s, f), frame in zip(TIMES, frames, strict=False)])
    third = 24 + 2 * 16 + len(frames[0]) + len(frames[1])
    return data, third


@pytest.mark.parametrize("cut,what", [(40, "truncated packet (24 of 59 bytes)"), (5, "truncated packet record header (5 of 16 bytes)")])
def test_truncated_pcap_keeps_what_came_before(tmp_path, cut, what):
    data, third = three_packet_pcap()
    path = write(tmp_path, data[: third + cut])
    capture = read_capture(path)
    assert capture.error == f"{path}: offset {third}: {what}"
    assert list(capture.connections[0].segments) == EXPECTED[:2]


def test_truncated_pcapng_keeps_what_came_before(tmp_path):
    packets = handshake(4)
    head = section("<") + interface("<", 1) + enhanced("<", 0, 0, link(1, packets[0]))
    path = write(tmp_path, head + enhanced("<", 0, 250_000, link(1, packets[1]))[:-10], "c.pcapng")
    capture = read_capture(path)
    assert capture.error == f"{path}: offset {len(head)}: truncated block (82 of 92 bytes)"
    assert list(capture.connections[0].segments) == [EXPECTED[0]]


@pytest.mark.parametrize(
    "corrupt,what",
    [
        (lambda b: b[:4] + struct.pack("<I", 101) + b[8:], "block length 101 is not a multiple of 4"),
        (lambda b: b[:-4] + struct.pack("<I", 96), "the block's two length fields differ"),
        (lambda b: b[:8] + struct.pack("<I", 5) + b[12:], "packet of interface 5, but 1 interfaces are described"),
        (lambda b: b[:20] + struct.pack("<I", 9999) + b[24:], "a packet of 9999 bytes does not fit its block of 92"),
    ],
)
def test_corrupt_pcapng_block(tmp_path, corrupt, what):
    packets = handshake(4)
    head = section("<") + interface("<", 1) + enhanced("<", 0, 0, link(1, packets[0]))
    tail = enhanced("<", 0, 0, link(1, packets[2]))
    path = write(tmp_path, head + corrupt(enhanced("<", 0, 0, link(1, packets[1]))) + tail, "c.pcapng")
    capture = read_capture(path)
    assert capture.error.startswith(f"{path}: offset {len(head)}: {what}")
    assert len(capture.connections[0].segments) == 1


def test_pcap_record_claiming_a_huge_packet(tmp_path):
    data, third = three_packet_pcap()
    data = data[: third + 8] + struct.pack("<I", 10**9) + data[third + 12 :]
    capture = read_capture(write(tmp_path, data))
    assert capture.error.endswith(f"offset {third}: packet record claims 1000000000 captured bytes, more than 262144")


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "not a pcap or pcapng file (empty)"),
        (b"# a text file\n", "not a pcap or pcapng file (it starts with 23206120)"),
        (b"\xd4\xc3\xb2\xa1\x02\x00", "truncated pcap file header (6 of 24 bytes)"),
        (section("<")[:20], "not a pcap or pcapng file (pcapng section header: truncated block (20 of 28 bytes))"),
        (b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00XXXX",
         "not a pcap or pcapng file (pcapng section header: section header with an unknown byte-order magic 58585858)"),
    ],
)
def test_not_a_capture(tmp_path, data, message):
    path = write(tmp_path, data)
    with pytest.raises(InputError) as caught:
        read_capture(path)
    assert str(caught.value) == f"{path}: offset 0: {message}"


def test_unsupported_link_type(tmp_path):
    path = write(tmp_path, pcap_file(105, []))
    with pytest.raises(InputError, match=f"^{path}: offset 20: link type 105 is not supported \\(0 BSD loopback, 1 Ethernet"):
        read_capture(path)


def test_missing_capture(tmp_path):
    with pytest.raises(InputError, match=r"nowhere\.pcap: cannot read capture: No such file or directory$"):
        read_capture(tmp_path / "nowhere.pcap")


def with_extension_headers(packet):
    """An IPv6 packet with hop-by-hop, AH and fragment headers before its TCP segment."""
    hop_by_hop = bytes([51, 0]) + b"\x00" * 6
    authentication = bytes([44, 1]) + b"\x00" * 10
    fragment = bytes([6, 0]) + struct.pack(">HI", 0, 1)
    payload = hop_by_hop + authentication + fragment + packet[40:]
    return struct.pack(">IHBB", 0x60000000, len(payload), 0, 64) + packet[8:40] + payload


@st.composite
def damaged_frames(draw, linktype):
    """A real frame of ``linktype``, cut short and with a few octets overwritten."""
    packet = draw(st.sampled_from(handshake(4) + handshake(6) + [with_extension_headers(p) for p in handshake(6)]))
    frame = bytearray(link(linktype, packet))
    for _ in range(draw(st.integers(0, 3))):
        frame[draw(st.integers(0, len(frame) - 1))] = draw(st.integers(0, 255))
    return bytes(frame[: draw(st.integers(0, len(frame)))])


@st.composite
def frames_of_a_link(draw):
    linktype = draw(st.sampled_from([0, 1, 101, 113, 228, 229, 276]))
    frames = st.one_of(st.binary(max_size=80), damaged_frames(linktype if linktype not in (228, 229) else 101))
    return linktype, draw(st.lists(frames, max_size=6))


def test_tcp_behind_hop_by_hop_authentication_and_fragment_headers(tmp_path):
    frames = [link(1, with_extension_headers(p)) for p in handshake(6)]
    capture = read_capture(write(tmp_path, pcap_file(1, [(s, f, frame) for (s, f), frame in zip(TIMES, frames, strict=False)])))
    assert list(only_connection(capture).segments) == EXPECTED


def test_an_extension_header_cut_short_is_skipped(tmp_path):
    packet = ipv6(*ADDRESSES[6], bytes([6, 0, 0, 0]), next_header=60)
    capture = read_capture(write(tmp_path, pcap_file(101, [(BASE, 0, packet)])))
    assert capture.skipped == 1 and capture.connections == [] and capture.error is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames_of_a_link(), st.binary(max_size=40))
def test_random_frames_and_tails_never_crash(tmp_path, link_and_frames, tail):
    linktype, frames = link_and_frames
    path = write(tmp_path, pcap_file(linktype, [(BASE, 0, f) for f in frames]) + tail)
    capture = read_capture(path)
    assert all(c.segments and {s.sender for s in c.segments} <= {0, 1} for c in capture.connections)
    read = sum(len(c.segments) for c in capture.connections) + capture.skipped
    if tail:
        assert read >= len(frames)
    else:
        assert capture.error is None and read == len(frames)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 3))
def test_random_bytes_after_a_pcapng_header_never_crash(data, where):
    with tempfile.TemporaryDirectory() as folder:
        head = section("<") + interface("<", 1)
        path = Path(folder) / "c.pcapng"
        path.write_bytes([b"", head[:28], head, head + enhanced("<", 0, 0, link(1, handshake(4)[0]))][where] + data)
        try:
            capture = read_capture(path)
        except InputError as exc:
            assert str(exc).startswith(f"{path}: offset ")
        else:
            assert capture.error is None or capture.error.startswith(f"{path}: offset ")


# ------------------------------------------------------------ connections and incarnations


def flow(*segments, version=4, client_port=40000):
    """IP packets from (sender, flags, seq, ack[, data]) with sender 0 the client."""
    a, b = ADDRESSES[version]
    wrap = ipv4 if version == 4 else ipv6
    out = []
    for sender, flags, seq, ack, *data in segments:
        ends = ((a, client_port), (b, 80)) if sender == 0 else ((b, 80), (a, client_port))
        header = tcp_header(ends[0][1], ends[1][1], seq, ack, flags)
        out.append(wrap(ends[0][0], ends[1][0], header + (data[0] if data else b"")))
    return out


def capture_of(tmp_path, packets):
    records = [(BASE + n, 0, link(1, p)) for n, p in enumerate(packets)]
    capture = read_capture(write(tmp_path, pcap_file(1, records)))
    assert capture.error is None and capture.skipped == 0
    return capture


OPEN = [(0, SYN, 100, 0), (1, SYN | ACK, 500, 101), (0, ACK, 101, 501)]
CLOSE = [(0, FIN | ACK, 101, 501), (1, FIN | ACK, 501, 102), (0, ACK, 102, 502)]


def test_two_connections_interleaved_on_different_ports(tmp_path):
    first, second = flow(*OPEN, *CLOSE), flow(*OPEN, client_port=40001)
    packets = [p for pair in zip(first, second, strict=False) for p in pair] + first[3:]
    capture = capture_of(tmp_path, packets)
    one, two = capture.connections
    assert (one.client, two.client) == ("10.0.0.1:40000", "10.0.0.1:40001")
    assert one.server == two.server == "10.0.0.2:80"
    assert [s.sender for s in one.segments] == [0, 1, 0, 0, 1, 0]
    assert [s.t for s in one.segments] == [0, 2, 4, 6, 7, 8]
    assert [s.t for s in two.segments] == [1, 3, 5]
    assert one.incarnation == two.incarnation == 0


def test_a_syn_after_an_orderly_close_is_a_new_incarnation(tmp_path):
    again = [(0, SYN, 100, 0), (1, SYN | ACK, 7000, 101)]  # even with the old ISN
    capture = capture_of(tmp_path, flow(*OPEN, *CLOSE, *again))
    old, new = capture.connections
    assert (old.incarnation, new.incarnation) == (0, 1)
    assert len(old.segments) == 6 and [s.seq for s in new.segments] == [100, 7000]
    assert new.segments[0].t == 6.0 and new.client == old.client


def test_an_old_syn_before_the_last_fin_is_acknowledged_stays(tmp_path):
    capture = capture_of(tmp_path, flow(*OPEN, *CLOSE[:2], (0, SYN, 100, 0)))
    assert len(capture.connections) == 1 and len(capture.connections[0].segments) == 6


def test_a_syn_after_a_reset_is_a_new_incarnation(tmp_path):
    capture = capture_of(tmp_path, flow(*OPEN, (1, RST, 501, 0), (1, ACK, 501, 101), (0, SYN, 100, 0)))
    old, new = capture.connections
    assert [s.flags for s in old.segments][-2:] == [RST, ACK]  # a late segment stays with its incarnation
    assert new.incarnation == 1 and new.segments[0].seq == 100


def test_a_syn_with_another_isn_is_a_new_incarnation_and_a_retransmission_is_not(tmp_path):
    capture = capture_of(tmp_path, flow((0, SYN, 100, 0), (0, SYN, 100, 0), (0, SYN, 300, 0), (1, SYN | ACK, 500, 301)))
    old, new = capture.connections
    assert [s.seq for s in old.segments] == [100, 100]
    assert [s.seq for s in new.segments] == [300, 500]


def test_a_simultaneous_open_is_one_incarnation(tmp_path):
    capture = capture_of(tmp_path, flow((0, SYN, 100, 0), (1, SYN, 500, 0), (0, SYN | ACK, 100, 501), (1, SYN | ACK, 500, 101)))
    (connection,) = capture.connections
    assert connection.client == "10.0.0.1:40000" and [s.sender for s in connection.segments] == [0, 1, 0, 1]


def test_a_capture_that_starts_after_the_syn(tmp_path):
    capture = capture_of(tmp_path, flow(*OPEN[1:], *CLOSE))
    (connection,) = capture.connections
    assert connection.client == "10.0.0.1:40000" and not connection.saw_open
    capture = capture_of(tmp_path, flow(*CLOSE[1:]))
    (connection,) = capture.connections
    assert connection.client == "10.0.0.2:80" and connection.server == "10.0.0.1:40000" and not connection.saw_open
    assert [s.sender for s in connection.segments] == [0, 1]


def test_sequence_numbers_across_the_wrap_end_an_incarnation(tmp_path):
    opening = [(0, SYN, 2**32 - 1, 0), (1, SYN | ACK, 2**32 - 2, 0), (0, ACK, 0, 2**32 - 1)]
    closing = [(0, FIN | ACK, 0, 2**32 - 1), (1, FIN | ACK, 2**32 - 1, 1), (0, ACK, 1, 0)]
    capture = capture_of(tmp_path, flow(*opening, *closing, (0, SYN, 2**32 - 1, 0)))  # the old ISN: only the close separates
    assert [c.incarnation for c in capture.connections] == [0, 1]


# ------------------------------------------------------------ traces


def test_to_trace_from_either_side(tmp_path):
    capture = capture_of(tmp_path, flow(*OPEN, (0, PSH | ACK, 101, 501, b"abc")))
    connection = capture.connections[0]
    server = to_trace(connection, 1, profile="linux", source="run.pcap")
    assert server.header.endpoint == "10.0.0.2:80" and server.header.peer == "10.0.0.1:40000"
    assert (server.header.spec, server.header.profile, server.header.source) == ("rfc9293", "linux", "run.pcap")
    assert [e.direction for e in server.events] == ["in", "out", "in", "in"]
    assert server.events[3] == SegmentEvent(3.0, "in", PSH | ACK, 101, 501, 65535, 3, "")
    client = to_trace(connection, 0)
    assert [e.direction for e in client.events] == ["out", "in", "out", "out"]
    assert client.header.endpoint == "10.0.0.1:40000" and client.header.source is None
    path = tmp_path / "server.jsonl"
    write_trace(path, server)
    assert read_trace(path) == server


def test_to_trace_counts_from_the_first_segment_and_never_goes_back(tmp_path):
    packets = flow(*OPEN)
    records = [(BASE + 10, 0, link(1, packets[0])), (BASE + 12, 0, link(1, packets[1])), (BASE + 11, 0, link(1, packets[2]))]
    capture = read_capture(write(tmp_path, pcap_file(1, records)))
    assert [s.t for s in capture.connections[0].segments] == [0.0, 2.0, 1.0]
    trace = to_trace(capture.connections[0], 0)
    assert [e.t for e in trace.events] == [0.0, 2.0, 2.0]
    write_trace(tmp_path / "t.jsonl", trace)
    assert read_trace(tmp_path / "t.jsonl") == trace


def test_to_trace_rejects_a_third_side(tmp_path):
    connection = capture_of(tmp_path, flow(*OPEN)).connections[0]
    with pytest.raises(ValueError, match="side is 0 \\(client\\) or 1 \\(server\\)"):
        to_trace(connection, 2)


# ------------------------------------------------------------ writing


def ones_complement_sum(data: bytes) -> int:
    data += b"\x00" * (len(data) % 2)
    total = sum(struct.unpack(f">{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


PACKETS = [
    TcpPacket(0.0, "192.0.2.1:1234", "192.0.2.2:80", "SYN", 4294967295, 0, 29200, b"", "020405b40101080a0000000100000000"),
    TcpPacket(0.125, "192.0.2.2:80", "192.0.2.1:1234", SYN | ACK, 77, 0, 28960),
    TcpPacket(0.25, "192.0.2.1:1234", "192.0.2.2:80", "ACK,PSH", 0, 78, 229, b"GET / HTTP/1.0\r\n\r\n"),
    TcpPacket(0.5, "[2001:db8::a]:5555", "[2001:db8::b]:443", "RST", 9),
]


def test_write_pcap_round_trip(tmp_path):
    path = tmp_path / "w.pcap"
    write_pcap(path, ethernet_frames(PACKETS))
    assert [p.name for p in tmp_path.iterdir()] == ["w.pcap"]
    capture = read_capture(path)
    assert capture.error is None and capture.skipped == 0
    four, six = capture.connections
    assert (four.client, four.server, six.client, six.server) == ("192.0.2.1:1234", "192.0.2.2:80", "[2001:db8::a]:5555", "[2001:db8::b]:443")
    assert list(four.segments) == [
        CapturedSegment(0.0, 0, SYN, 4294967295, 0, 29200, 0, "020405b40101080a0000000100000000"),
        CapturedSegment(0.125, 1, SYN | ACK, 77, 0, 28960, 0, ""),
        CapturedSegment(0.25, 0, PSH | ACK, 0, 78, 229, 18, ""),
    ]
    assert list(six.segments) == [CapturedSegment(0.5, 0, RST, 9, 0, 65535, 0, "")]


@pytest.mark.parametrize("nanoseconds", [False, True])
def test_write_pcap_never_writes_a_whole_second_as_a_fraction(tmp_path, nanoseconds):
    # 0.9999997 s rounds to the next whole second in microseconds, 0.9999999999 s in nanoseconds:
    # dpkt's own writer wrote them as a fraction of 1,000,000 us (1,000,000,000 ns)
    times = [1_700_000_000.9999997, 0.9999999999, 2.5]
    path = tmp_path / "w.pcap"
    write_pcap(path, ethernet_frames(PACKETS[0]._replace(t=t) for t in times), nanoseconds=nanoseconds)
    data = path.read_bytes()
    ticks = 10**9 if nanoseconds else 10**6
    records, offset = [], 24
    while offset < len(data):
        seconds, fraction, caplen, _length = struct.unpack("<IIII", data[offset : offset + 16])
        records.append((seconds, fraction))
        offset += 16 + caplen
    assert all(fraction < ticks for _, fraction in records)
    assert [s for s, _ in records] == [1_700_000_000 if nanoseconds else 1_700_000_001, 1, 2]
    assert all(abs(s + f / ticks - t) < 1e-6 for (s, f), t in zip(records, times, strict=True))


def test_written_checksums_are_correct():
    for packet in PACKETS:
        data = ip_packet(packet)
        if data[0] >> 4 == 4:
            assert ones_complement_sum(data[:20]) == 0xFFFF
            pseudo = data[12:20] + struct.pack(">BBH", 0, 6, len(data) - 20)
            segment = data[20:]
        else:
            pseudo = data[8:40] + struct.pack(">IxxxB", len(data) - 40, 6)
            segment = data[40:]
        assert ones_complement_sum(pseudo + segment) == 0xFFFF
    assert ethernet_frame(PACKETS[3])[12:14] == b"\x86\xdd"


def test_write_pcap_rejects_unaligned_options_and_mixed_versions(tmp_path):
    with pytest.raises(ValueError, match="not a whole number of 32-bit words"):
        ip_packet(TcpPacket(0, "10.0.0.1:1", "10.0.0.2:2", "SYN", 0, options="020405"))
    with pytest.raises(ValueError, match="not of one IP version"):
        ip_packet(TcpPacket(0, "10.0.0.1:1", "[::1]:2", "SYN", 0))
