"""Captures: the TCP connections in a pcap or pcapng file (``tcpmodel.traces.pcap`` writes them).

Files: pcap (either byte order, micro- or nanosecond timestamps, and the "modified" variant) and
pcapng (every section and interface; Enhanced and obsolete Packet Blocks; Simple Packet Blocks
carry no timestamp and are skipped). ``packets`` finds the TCP segment in each frame; every other
packet, every IP fragment but the first, and every packet whose TCP header was not captured whole
is counted in ``Capture.skipped``. A segment's length comes from the IP length fields, so a
snapshot length that cut the payload does not shorten it (fragments are not reassembled: a first
fragment's segment counts only the octets that fragment carries).

Connections: segments are grouped by their 4-tuple. A SYN without ACK starts a new incarnation of
its 4-tuple when the current one has ended (a RST was seen, or both FINs were seen and each was
acknowledged by the other side), or when the same side already sent a SYN without ACK in it with
another sequence number (a new ISN: a new connection, not a retransmission). A SYN from the other
side with its own ISN is a simultaneous open and stays. The client is the side whose SYN without
ACK opened the incarnation; when that SYN was not captured, it is the receiver of a first SYN-ACK,
otherwise the sender of the first segment, and ``saw_open`` is false.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass, field
from fractions import Fraction

import dpkt

from tcpmodel.base.errors import InputError
from tcpmodel.base.flags import ACK, FIN, RST, SYN
from tcpmodel.base.seqnum import seq_add, seq_ge
from tcpmodel.traces.packets import (
    LINK_TYPES,
    Segment,
    address_text,
    decode_frame,
)
from tcpmodel.traces.pcap import MAX_FRAME
from tcpmodel.traces.source import Source, source
from tcpmodel.traces.trace import Header, SegmentEvent, Trace

MAX_BLOCK = 1 << 24  # a longer pcapng block or pcap record is taken as corruption
PCAPNG_SECTION, PCAPNG_INTERFACE, PCAPNG_PACKET, PCAPNG_SIMPLE, PCAPNG_ENHANCED = 0x0A0D0D0A, 1, 2, 3, 6
PCAPNG_ORDER = {b"\x1a\x2b\x3c\x4d": ">", b"\x4d\x3c\x2b\x1a": "<"}
PCAP_FORMATS = {  # magic as stored -> file header, record header, timestamp fractions per second
    b"\xa1\xb2\xc3\xd4": (dpkt.pcap.FileHdr, dpkt.pcap.PktHdr, 10**6),
    b"\xd4\xc3\xb2\xa1": (dpkt.pcap.LEFileHdr, dpkt.pcap.LEPktHdr, 10**6),
    b"\xa1\xb2\x3c\x4d": (dpkt.pcap.FileHdr, dpkt.pcap.PktHdr, 10**9),
    b"\x4d\x3c\xb2\xa1": (dpkt.pcap.LEFileHdr, dpkt.pcap.LEPktHdr, 10**9),
    b"\xa1\xb2\xcd\x34": (dpkt.pcap.FileHdr, dpkt.pcap.PktModHdr, 10**6),
    b"\x34\xcd\xb2\xa1": (dpkt.pcap.LEFileHdr, dpkt.pcap.LEPktModHdr, 10**6),
}


@dataclass(frozen=True)
class CapturedSegment:
    """One TCP segment of a connection, as captured."""

    t: float  # seconds since the first packet of the capture
    sender: int  # 0 client, 1 server
    flags: int  # flags.FLAG_BITS
    seq: int
    ack: int
    win: int
    length: int
    options_hex: str


@dataclass(frozen=True)
class Connection:
    """One incarnation of a 4-tuple: its two ends and its segments in capture order."""

    client: str  # "ip:port" ("[ip]:port" for IPv6)
    server: str
    incarnation: int  # 0, 1, ... for its 4-tuple
    segments: tuple[CapturedSegment, ...]
    saw_open: bool = True  # the client's SYN without ACK was captured


@dataclass
class Capture:
    """What a capture file holds, and why reading stopped early, if it did."""

    connections: list[Connection] = field(default_factory=list)
    skipped: int = 0  # packets that are not usable TCP segments
    error: str | None = None  # "FILE: offset N: what" when reading stopped early


class _Corrupt(Exception):
    def __init__(self, offset: int, message: str):
        super().__init__(message)
        self.offset = offset


# ------------------------------------------------------------ reading


def read_capture(path: str | os.PathLike[str] | Source) -> Capture:
    """Read the TCP connections of a pcap or pcapng file (or a stream: ``source``); see the module docstring."""
    src = path if isinstance(path, Source) else source(path, "capture")
    if src.data is not None:
        return _read(io.BytesIO(src.data), src.name)
    assert src.path is not None  # a Source holds a path or its data
    try:
        with open(src.path, "rb") as f:
            return _read(f, src.name)
    except OSError as exc:
        raise InputError(f"cannot read capture: {exc.strerror or exc}", where=src.name) from None


def _read(f, name: str) -> Capture:
    head = f.read(4)
    if head in PCAP_FORMATS:
        frames = _pcap_frames(f, name, head)
    elif head == struct.pack("<I", PCAPNG_SECTION):
        frames = _pcapng_frames(f, name, head)
    else:
        what = "empty" if not head else f"it starts with {head.hex()}"
        raise InputError(f"not a pcap or pcapng file ({what})", where=f"{name}: offset 0")
    capture = Capture()
    grouper = _Grouper()
    first = None
    try:
        for linktype, stamp, frame in frames:
            if stamp is None:
                capture.skipped += 1
                continue
            first = stamp if first is None else first
            segment = decode_frame(linktype, frame)
            if segment is None:
                capture.skipped += 1
            else:
                grouper.add(float(stamp - first), segment)
    except _Corrupt as exc:
        capture.error = f"{name}: offset {exc.offset}: {exc}"
    capture.connections = grouper.connections()
    return capture


def _pcap_frames(f, name: str, head: bytes):
    file_header, record_header, ticks = PCAP_FORMATS[head]
    raw = head + f.read(file_header.__hdr_len__ - 4)
    if len(raw) < file_header.__hdr_len__:
        raise InputError(f"truncated pcap file header ({len(raw)} of {file_header.__hdr_len__} bytes)", where=f"{name}: offset 0")
    header = file_header(raw)
    linktype = header.linktype & 0xFFFF  # the upper bits only say whether frames end in an FCS
    if linktype not in LINK_TYPES:
        raise InputError(f"link type {linktype} is not supported ({_supported()})", where=f"{name}: offset 20")
    return _pcap_records(f, len(raw), linktype, min(max(header.snaplen, MAX_FRAME), MAX_BLOCK), record_header, ticks)


def _pcap_records(f, offset: int, linktype: int, limit: int, record_header, ticks: int):
    size = record_header.__hdr_len__
    while raw := f.read(size):
        if len(raw) < size:
            raise _Corrupt(offset, f"truncated packet record header ({len(raw)} of {size} bytes)")
        record = record_header(raw)
        if record.caplen > limit:
            raise _Corrupt(offset, f"packet record claims {record.caplen} captured bytes, more than {limit}")
        frame = f.read(record.caplen)
        if len(frame) < record.caplen:
            raise _Corrupt(offset, f"truncated packet ({len(frame)} of {record.caplen} bytes)")
        yield linktype, record.tv_sec + Fraction(record.tv_usec, ticks), frame
        offset += size + record.caplen


def _pcapng_frames(f, name: str, head: bytes):
    try:
        _, order, block = _pcapng_block(f, 0, head, None)
        _pcapng_section(block, order, 0)
    except _Corrupt as exc:
        raise InputError(f"not a pcap or pcapng file (pcapng section header: {exc})", where=f"{name}: offset 0") from None
    return _pcapng_blocks(f, len(block), order)


def _pcapng_blocks(f, offset: int, order: str):
    interfaces: list[tuple[int, Fraction, int]] = []  # link type, seconds per tick, offset in seconds
    while start := f.read(4):
        kind, order, block = _pcapng_block(f, offset, start, order)
        try:
            if kind == PCAPNG_SECTION:
                _pcapng_section(block, order, offset)
                interfaces = []
            elif kind == PCAPNG_INTERFACE:
                interfaces.append(_pcapng_interface(block, order))
            elif kind in (PCAPNG_ENHANCED, PCAPNG_PACKET):
                yield _pcapng_packet(block, order, kind, interfaces, offset)
            elif kind == PCAPNG_SIMPLE:
                yield None, None, b""  # no timestamp, so no place in time
        except (dpkt.Error, struct.error, ValueError, IndexError) as exc:
            raise _Corrupt(offset, f"bad pcapng block of type {kind:#x}: {exc}") from None
        offset += len(block)


def _pcapng_block(f, offset: int, start: bytes, order: str | None) -> tuple[int, str, bytes]:
    raw = start + f.read(12 - len(start))
    if len(raw) < 12:
        raise _Corrupt(offset, f"truncated block header ({len(raw)} of 12 bytes)")
    if raw[:4] == struct.pack("<I", PCAPNG_SECTION):
        if raw[8:12] not in PCAPNG_ORDER:
            raise _Corrupt(offset, f"section header with an unknown byte-order magic {raw[8:12].hex()}")
        order = PCAPNG_ORDER[raw[8:12]]
    if order is None:
        raise _Corrupt(offset, "a block before the first section header")
    kind, length = struct.unpack(order + "II", raw[:8])
    if length < 12 or length % 4 or length > MAX_BLOCK:
        raise _Corrupt(offset, f"block length {length} is not a multiple of 4 between 12 and {MAX_BLOCK}")
    block = raw + f.read(length - 12)
    if len(block) < length:
        raise _Corrupt(offset, f"truncated block ({len(block)} of {length} bytes)")
    if struct.unpack(order + "I", block[-4:])[0] != length:
        raise _Corrupt(offset, "the block's two length fields differ")
    return kind, order, block


def _pcapng_section(block: bytes, order: str, offset: int) -> None:
    kind = dpkt.pcapng.SectionHeaderBlockLE if order == "<" else dpkt.pcapng.SectionHeaderBlock
    try:
        section = kind(block)
    except (dpkt.Error, struct.error, ValueError, IndexError) as exc:
        raise _Corrupt(offset, f"bad section header: {exc}") from None
    if section.v_major != dpkt.pcapng.PCAPNG_VERSION_MAJOR:
        raise _Corrupt(offset, f"pcapng version {section.v_major}.{section.v_minor} is not supported")


def _pcapng_interface(block: bytes, order: str) -> tuple[int, Fraction, int]:
    idb = (dpkt.pcapng.InterfaceDescriptionBlockLE if order == "<" else dpkt.pcapng.InterfaceDescriptionBlock)(block)
    tick, shift = Fraction(1, 10**6), 0
    for option in idb.opts:
        if option.code == dpkt.pcapng.PCAPNG_OPT_IF_TSRESOL:
            if len(option.data) != 1:
                raise ValueError(f"a time resolution option of {len(option.data)} octets, not 1")
            exponent = option.data[0] & 0x7F
            tick = Fraction(1, 2**exponent if option.data[0] & 0x80 else 10**exponent)
        elif option.code == dpkt.pcapng.PCAPNG_OPT_IF_TSOFFSET:
            if len(option.data) != 8:
                raise ValueError(f"a time offset option of {len(option.data)} octets, not 8")
            shift = struct.unpack(order + "q", option.data)[0]
    return idb.linktype, tick, shift


def _pcapng_packet(block: bytes, order: str, kind: int, interfaces: list, offset: int):
    if kind == PCAPNG_ENHANCED:
        blocks = (dpkt.pcapng.EnhancedPacketBlock, dpkt.pcapng.EnhancedPacketBlockLE)
    else:
        blocks = (dpkt.pcapng.PacketBlock, dpkt.pcapng.PacketBlockLE)
    packet = blocks[order == "<"](block)
    if packet.iface_id >= len(interfaces):
        raise _Corrupt(offset, f"packet of interface {packet.iface_id}, but {len(interfaces)} interfaces are described")
    if packet.__hdr_len__ + packet.caplen > len(block):
        raise _Corrupt(offset, f"a packet of {packet.caplen} bytes does not fit its block of {len(block)}")
    linktype, tick, shift = interfaces[packet.iface_id]
    return linktype, shift + ((packet.ts_high << 32) | packet.ts_low) * tick, packet.pkt_data


def _supported() -> str:
    return ", ".join(f"{number} {text}" for number, text in LINK_TYPES.items())


# ------------------------------------------------------------ connections


class _Incarnation:
    def __init__(self, client: tuple, server: tuple, number: int, saw_open: bool):
        self.ends = (client, server)
        self.number = number
        self.saw_open = saw_open
        self.segments: list[CapturedSegment] = []
        self.syn_seq: dict[int, int] = {}  # sender -> sequence number of its first SYN without ACK
        self.fin_seq: dict[int, int] = {}  # sender -> sequence number of its FIN
        self.fin_acked: set[int] = set()
        self.reset = False

    def ended(self) -> bool:
        return self.reset or len(self.fin_acked) == 2

    def opens_new(self, sender: int, segment: Segment) -> bool:
        if segment.flags & (SYN | ACK) != SYN:
            return False
        return self.ended() or self.syn_seq.get(sender, segment.seq) != segment.seq

    def add(self, t: float, sender: int, s: Segment) -> None:
        self.segments.append(CapturedSegment(t, sender, s.flags, s.seq, s.ack, s.win, s.length, s.options_hex))
        if s.flags & (SYN | ACK) == SYN:
            self.syn_seq.setdefault(sender, s.seq)
        if s.flags & RST:
            self.reset = True
        if s.flags & FIN:
            self.fin_seq[sender] = seq_add(s.seq, s.length + (1 if s.flags & SYN else 0))
        other = 1 - sender
        if s.flags & ACK and other in self.fin_seq and seq_ge(s.ack, seq_add(self.fin_seq[other], 1)):
            self.fin_acked.add(other)

    def connection(self) -> Connection:
        client, server = (address_text(*end) for end in self.ends)
        return Connection(client, server, self.number, tuple(self.segments), self.saw_open)


class _Grouper:
    def __init__(self):
        self.all: list[_Incarnation] = []
        self.current: dict[frozenset, _Incarnation] = {}

    def add(self, t: float, segment: Segment) -> None:
        key = frozenset((segment.source, segment.destination))
        incarnation = self.current.get(key)
        if incarnation is not None:
            sender = incarnation.ends.index(segment.source) if segment.source != segment.destination else 0
            if not incarnation.opens_new(sender, segment):
                incarnation.add(t, sender, segment)
                return
        opening = segment.flags & (SYN | ACK)
        ends = (segment.destination, segment.source) if opening == SYN | ACK else (segment.source, segment.destination)
        number = incarnation.number + 1 if incarnation is not None else 0
        incarnation = _Incarnation(*ends, number, saw_open=opening == SYN)
        self.current[key] = incarnation
        self.all.append(incarnation)
        incarnation.add(t, ends.index(segment.source), segment)

    def connections(self) -> list[Connection]:
        return [incarnation.connection() for incarnation in self.all]


# ------------------------------------------------------------ traces


def to_trace(connection: Connection, side: int, spec_name: str = "rfc9293", profile: str = "rfc9293", source: str = "") -> Trace:
    """The connection as seen by endpoint ``side`` (0 client, 1 server): its segments are "out".

    Times count from the connection's first segment; where the capture's clock steps back, a
    segment keeps the time of the one before it, as a trace's times never decrease.
    """
    if side not in (0, 1):
        raise ValueError(f"side is 0 (client) or 1 (server), not {side!r}")
    ends = (connection.client, connection.server)
    header = Header(spec=spec_name, profile=profile, endpoint=ends[side], peer=ends[1 - side], source=source or None)
    events = []
    start = connection.segments[0].t if connection.segments else 0.0
    last = 0.0
    for s in connection.segments:
        last = max(last, s.t - start)
        direction = "out" if s.sender == side else "in"
        events.append(SegmentEvent(last, direction, s.flags, s.seq, s.ack, s.win, s.length, s.options_hex))
    return Trace(header, tuple(events))
