"""TCP's control flags: the one table of their bits and names.

``FLAG_BITS`` holds all eight flags of the TCP header (RFC 9293 §3.1, RFC 3168 for ECE and CWR),
in the header's bit order (``FLAG_ORDER``): a trace or a capture may show any of them. A spec
reads and sends only the four of connection management (``SPEC_FLAG_BITS``: SYN, FIN, RST, ACK);
the others are not modelled.

Two writings of a set of flags:

- ``flag_names``: as RFC 9293 writes a segment's flags, SYN before FIN ("SYN,ACK", "FIN,ACK",
  "RST,ACK"), the modelled flags only, "none" for no flag: counterexamples, specs, verdicts;
- ``flag_text``: the trace format's, every flag in the header's bit order, "" for no flag;
  ``parse_flags`` reads either writing back.
"""

from __future__ import annotations

from tcpmodel.base.errors import did_you_mean

FLAG_ORDER = ("FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR")  # the bit order of the TCP header
FLAG_BITS = {name: 1 << bit for bit, name in enumerate(FLAG_ORDER)}  # FIN=1 SYN=2 RST=4 ... CWR=128
FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = (FLAG_BITS[name] for name in FLAG_ORDER)

RFC_ORDER = ("SYN", "FIN", "RST", "ACK")  # the flags a spec models, in the order RFC 9293 writes them
SPEC_FLAG_BITS = {name: FLAG_BITS[name] for name in FLAG_ORDER if name in RFC_ORDER}  # FIN, SYN, RST, ACK
SPEC_FLAGS = sum(SPEC_FLAG_BITS.values())  # the modelled flags' bits together


def flag_names(flags: int) -> str:
    """The modelled flags of a segment as written in RFC 9293, e.g. "SYN,ACK" (or "none")."""
    return ",".join(name for name in RFC_ORDER if flags & FLAG_BITS[name]) or "none"


def flag_text(flags: int) -> str:
    """Flag bits as the trace format writes them: header bit order, comma-separated ("" for none)."""
    return ",".join(name for name in FLAG_ORDER if flags & FLAG_BITS[name])


def parse_flags(text: str) -> int:
    """Flag bits from a comma-separated list of names in any order and case ("" for none).
    Raises ValueError naming an unknown or repeated flag."""
    bits = 0
    if not text.strip() or text.strip().lower() == "none":
        return bits
    for raw in text.split(","):
        name = raw.strip().upper()
        if name not in FLAG_BITS:
            raise ValueError(f'unknown flag "{raw.strip()}"{did_you_mean(name, FLAG_BITS)}')
        if bits & FLAG_BITS[name]:
            raise ValueError(f'flag "{name}" is given twice')
        bits |= FLAG_BITS[name]
    return bits
