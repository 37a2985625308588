"""A stand-in for a user-space stack's program, speaking tcpmodel.conformance.stacks.process's protocol.

It answers a SYN with a RST,ACK (a closed port) and behaves as the MODE argument (the first
argument, before the ones process.py appends) says: "ok" answers every call; "hang" stops
answering at CONNECT; "die" exits at CONNECT; "unsupported" refuses SEND.
"""

import os
import select
import socket
import struct
import sys

mode, fd = sys.argv[1], int(sys.argv[2])
packets = socket.socket(fileno=fd)
print("ready fake 1.0", flush=True)


def checksum(data: bytes) -> int:
    data += b"\0" * (len(data) % 2)
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def answer(packet: bytes) -> None:
    ihl = (packet[0] & 15) * 4
    src, dst = packet[12:16], packet[16:20]
    sport, dport, seq = struct.unpack("!HHI", packet[ihl:ihl + 8])
    if not packet[ihl + 13] & 0x02:  # only a SYN is answered
        return
    tcp = struct.pack("!HHIIBBHHH", dport, sport, 0, (seq + 1) & 0xFFFFFFFF, 5 << 4, 0x14, 0, 0, 0)
    tcp = tcp[:16] + struct.pack("!H", checksum(dst + src + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, dst, src)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    packets.send(b"\0\0\x08\0" + ip + tcp)


while True:
    ready, _, _ = select.select([sys.stdin, packets], [], [])
    if packets in ready:
        answer(packets.recv(65536)[4:])
    if sys.stdin in ready:
        line = sys.stdin.readline()
        if not line or line.strip() == "QUIT":
            break
        word = line.split()[0]
        if word == "CONNECT" and mode == "hang":
            continue
        if word == "CONNECT" and mode == "die":
            os._exit(7)
        if word == "SEND" and mode == "unsupported":
            print("unsupported this stack cannot send here", flush=True)
        else:
            print("none" if word == "RTO" else "ok", flush=True)
