"""Frames: the TCP segment inside a captured link-layer frame, and frames built from segments.

Link types: BSD loopback (0), Ethernet (1, with up to two VLAN tags), raw IP (101, 228, 229),
Linux cooked SLL (113) and SLL2 (276). IPv4 and IPv6 (past hop-by-hop, routing,
destination-options, fragment and AH headers). Checksums are neither checked nor needed.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import NamedTuple

import dpkt

from tcpmodel.base.flags import parse_flags

ETHERTYPES = {0x0800: 4, 0x86DD: 6}
VLAN_TAGS = (0x8100, 0x88A8, 0x9100)
LOOPBACK_FAMILIES = {2: 4, 24: 6, 28: 6, 30: 6}  # AF_INET, and AF_INET6 on the BSDs and macOS
IPV6_EXTENSIONS = (0, 43, 44, 51, 60)  # hop-by-hop, routing, fragment, AH, destination options
LINK_TYPES = {0: "BSD loopback", 1: "Ethernet", 101: "raw IP", 113: "Linux SLL", 228: "raw IPv4", 229: "raw IPv6", 276: "Linux SLL2"}


class Segment(NamedTuple):
    """A TCP segment found in a frame; ``length`` comes from the IP length fields."""

    source: tuple  # (address octets, port)
    destination: tuple
    flags: int
    seq: int
    ack: int
    win: int
    length: int
    options_hex: str


def decode_frame(linktype: int, frame: bytes) -> Segment | None:
    """The TCP segment in a captured frame, or None when it holds none (or only part of one)."""
    version, packet = _network_packet(linktype, frame)
    if version == 4 or (version is None and packet[:1] and packet[0] >> 4 == 4):
        found = _ipv4(packet)
    elif version == 6 or (version is None and packet[:1] and packet[0] >> 4 == 6):
        found = _ipv6(packet)
    else:
        return None
    if found is None:
        return None
    source, destination, segment, total = found
    if len(segment) < 20:
        return None
    sport, dport, seq, ack, offset, flags, win = struct.unpack(">HHIIBBH", segment[:16])
    size = (offset >> 4) * 4
    if size < 20 or len(segment) < size or total < size:
        return None
    return Segment((source, sport), (destination, dport), flags, seq, ack, win, total - size, segment[20:size].hex())


def _network_packet(linktype: int, frame: bytes) -> tuple[int | None, bytes]:
    """The IP version the link layer announces (None: read the packet's own) and the packet."""
    if linktype == 1 and len(frame) >= 14:
        kind, packet = struct.unpack(">H", frame[12:14])[0], frame[14:]
        while kind in VLAN_TAGS and len(packet) >= 4:
            kind, packet = struct.unpack(">H", packet[2:4])[0], packet[4:]
        return ETHERTYPES.get(kind, 0), packet
    if linktype in (101, 228, 229):
        return None, frame
    if linktype == 113 and len(frame) >= 16:
        return ETHERTYPES.get(struct.unpack(">H", frame[14:16])[0], 0), frame[16:]
    if linktype == 276 and len(frame) >= 20:
        return ETHERTYPES.get(struct.unpack(">H", frame[0:2])[0], 0), frame[20:]
    if linktype == 0 and len(frame) >= 4:
        family = struct.unpack("<I", frame[:4])[0]
        family = family if family in LOOPBACK_FAMILIES else struct.unpack(">I", frame[:4])[0]  # the writer's byte order
        return LOOPBACK_FAMILIES.get(family, 0), frame[4:]
    return 0, b""


def _ipv4(packet: bytes):
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return None
    header = (packet[0] & 0x0F) * 4
    total, fragment = struct.unpack(">H2xH", packet[2:8])
    if header < 20 or len(packet) < header or fragment & 0x1FFF or packet[9] != 6:
        return None
    total = total or len(packet)  # zero when segmentation offload left it to the card
    if total < header:
        return None
    return packet[12:16], packet[16:20], packet[header:total], total - header


def _ipv6(packet: bytes):
    if len(packet) < 40 or packet[0] >> 4 != 6:
        return None
    payload, following = struct.unpack(">HB", packet[4:7])
    end = 40 + (payload or len(packet) - 40)  # zero: a jumbogram, or segmentation offload
    position = 40
    while following in IPV6_EXTENSIONS:
        if len(packet) < position + 8:
            return None
        if following == 44:
            if struct.unpack(">H", packet[position + 2 : position + 4])[0] & 0xFFF8:
                return None  # not the first fragment
            size = 8
        elif following == 51:
            size = (packet[position + 1] + 2) * 4
        else:
            size = (packet[position + 1] + 1) * 8
        following, position = packet[position], position + size
    if following != 6 or end < position:
        return None
    return packet[8:24], packet[24:40], packet[position:end], end - position


def address_text(octets: bytes, port: int) -> str:
    """The address as "ip:port", or "[ip]:port" for IPv6."""
    address = ipaddress.ip_address(octets)
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"


# ------------------------------------------------------------ building


class TcpPacket(NamedTuple):
    """One TCP segment to write; addresses are "ip:port" or "[ipv6]:port"."""

    t: float
    source: str
    destination: str
    flags: int | str  # flags.FLAG_BITS, or names such as "SYN,ACK"
    seq: int
    ack: int = 0
    win: int = 65535
    data: bytes = b""
    options: str = ""  # hex, a whole number of 32-bit words


def ip_packet(packet: TcpPacket) -> bytes:
    """The IPv4 or IPv6 packet (by the addresses) carrying the segment, with checksums."""
    (source, sport), (destination, dport) = _parse_address(packet.source), _parse_address(packet.destination)
    if source.version != destination.version:
        raise ValueError(f"{packet.source} and {packet.destination} are not of one IP version")
    options = bytes.fromhex(packet.options)
    if len(options) % 4 or len(options) > 40:
        raise ValueError(f"options {packet.options!r} are not a whole number of 32-bit words up to 40 octets")
    flags = parse_flags(packet.flags) if isinstance(packet.flags, str) else packet.flags
    tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=packet.seq, ack=packet.ack, flags=flags, win=packet.win, opts=options, data=packet.data)
    tcp.off = 5 + len(options) // 4
    if source.version == 4:
        return bytes(dpkt.ip.IP(src=source.packed, dst=destination.packed, p=6, ttl=64, data=tcp))
    return bytes(dpkt.ip6.IP6(src=source.packed, dst=destination.packed, nxt=6, hlim=64, plen=len(tcp), data=tcp))


def ethernet_frame(packet: TcpPacket) -> bytes:
    """The packet in an Ethernet frame between two fixed, locally administered addresses."""
    data = ip_packet(packet)
    kind = 0x0800 if data[0] >> 4 == 4 else 0x86DD
    return bytes(dpkt.ethernet.Ethernet(src=b"\x02\x00\x00\x00\x00\x01", dst=b"\x02\x00\x00\x00\x00\x02", type=kind, data=data))


def _parse_address(text: str):
    host, _, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{text!r} is not ip:port")
    return ipaddress.ip_address(host), int(port)
