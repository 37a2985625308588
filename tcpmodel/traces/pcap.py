"""The one capture writer: frames to a pcap file, or to a pcapng file that says who wrote it.

``write_pcap(path, frames)`` takes ``(t, frame)`` pairs: ``t`` the capture time in seconds (an
int, float or Fraction >= 0) and ``frame`` an Ethernet frame, and writes them whole or not at
all. Each time is rounded to whole micro- (or, with ``nanoseconds``, nano-) seconds first and
split into seconds and the fraction of that integer, so the fraction is always below one second
(rounding the fraction alone, as dpkt's ``Writer.writepkt_time`` does, writes 1,000,000 µs for a
time just short of a whole second, which tshark reports as an invalid arrival time).

Classic pcap has no place for text. With ``comment`` the file is pcapng instead (one section,
one Ethernet interface, Enhanced Packet Blocks), and the comment is the section header's
``opt_comment`` (pcapng §4.2 of draft-ietf-opsawg-pcapng): the tracked example captures of the
conformance reports name there the command that made them. ``tcpmodel.traces.capture`` and
tshark read both formats.

``ethernet_frames(packets)`` turns ``packets.TcpPacket``s (``t`` is their time) into such pairs.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

from tcpmodel.traces.packets import TcpPacket, ethernet_frame
from tcpmodel.traces.trace import TOOL, write_atomic

LINKTYPE_ETHERNET = 1
MAX_FRAME = 262144  # libpcap's largest snapshot length
PCAP_MAGIC, PCAP_MAGIC_NANO = 0xA1B2C3D4, 0xA1B23C4D
PCAPNG_SECTION, PCAPNG_INTERFACE, PCAPNG_ENHANCED = 0x0A0D0D0A, 1, 6
PCAPNG_BYTE_ORDER = 0x1A2B3C4D
OPT_END, OPT_COMMENT, OPT_SHB_USERAPPL, OPT_IF_TSRESOL = 0, 1, 4, 9


def write_pcap(path, frames, *, nanoseconds: bool = False, comment: str | None = None) -> None:
    """Write ``(t, Ethernet frame)`` pairs as a little-endian capture, whole or not at all: pcap,
    or pcapng whose section header holds ``comment`` when one is given."""
    ticks = 10**9 if nanoseconds else 10**6
    stamped = [(round(t * ticks), frame) for t, frame in frames]
    if any(time < 0 for time, _ in stamped):
        raise ValueError("a capture time is negative")
    buffer = io.BytesIO()
    if comment is None:
        buffer.write(struct.pack("<IHHiIII", PCAP_MAGIC_NANO if nanoseconds else PCAP_MAGIC, 2, 4, 0, 0, MAX_FRAME, LINKTYPE_ETHERNET))
        for time, frame in stamped:
            seconds, fraction = divmod(time, ticks)
            buffer.write(struct.pack("<IIII", seconds, fraction, len(frame), len(frame)))
            buffer.write(frame)
    else:
        buffer.write(_block(PCAPNG_SECTION, struct.pack("<IHHq", PCAPNG_BYTE_ORDER, 1, 0, -1),
                            [(OPT_COMMENT, comment.encode("utf-8")), (OPT_SHB_USERAPPL, TOOL.encode("utf-8"))]))
        buffer.write(_block(PCAPNG_INTERFACE, struct.pack("<HHI", LINKTYPE_ETHERNET, 0, MAX_FRAME),
                            [(OPT_IF_TSRESOL, bytes([9 if nanoseconds else 6]))]))
        for time, frame in stamped:
            high, low = divmod(time, 1 << 32)  # a timestamp: pcapng writes its high 32 bits first
            body = struct.pack("<IIIII", 0, high, low, len(frame), len(frame)) + _padded(frame)
            buffer.write(_block(PCAPNG_ENHANCED, body, []))
    write_atomic(Path(path), buffer.getvalue(), "capture")


def ethernet_frames(packets):
    """``(t, Ethernet frame)`` for each TcpPacket (or tuple of its fields)."""
    for fields in packets:
        packet = TcpPacket(*fields)
        yield packet.t, ethernet_frame(packet)


def _block(kind: int, body: bytes, options: list[tuple[int, bytes]]) -> bytes:
    if options:
        body += b"".join(struct.pack("<HH", code, len(value)) + _padded(value) for code, value in options)
        body += struct.pack("<HH", OPT_END, 0)
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


def _padded(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)
