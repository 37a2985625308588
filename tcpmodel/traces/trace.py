"""Traces: what one endpoint under test sent and received, and the user calls made on it.

A trace is JSON lines. The first line is the header::

    {"tcpmodel_trace": 1, "spec": "rfc9293", "profile": "rfc9293", "tool": "tcpmodel 0.1.0",
     "endpoint": "10.0.0.1:80", "peer": "10.0.0.2:40000", "source": "run.pcap"}

("endpoint", "peer" and "source" are optional, and so is "command": the command that wrote a
trace kept as evidence, such as a conformance report's example; so is ``"kind": "endpoint"``: a
header with ``"kind": "run"`` begins a run of the whole system, both endpoints and the network,
which ``run`` reads). Each further line is one event, in time order, ``t`` being seconds from the
start of the trace:

    {"t": 0.0, "seg": "in", "flags": "SYN", "seq": 7, "ack": 0, "win": 65535, "len": 0, "options": "020405b4"}
    {"t": 0.5, "call": "CLOSE", "result": "ok"}

``seg`` is "out" for a segment the endpoint sent and "in" for one its peer sent to it.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from tcpmodel.base.errors import InputError, did_you_mean
from tcpmodel.base.flags import FLAG_ORDER, flag_text, parse_flags
from tcpmodel.base.seqnum import MODULUS
from tcpmodel.base.version import __version__
from tcpmodel.traces.source import source

FORMAT = 1
TOOL = f"tcpmodel {__version__}"
CALLS = ("LISTEN", "CONNECT", "SEND", "CLOSE", "ABORT")
DIRECTIONS = ("out", "in")
HEADER_KEYS = ("tcpmodel_trace", "kind", "spec", "profile", "tool", "endpoint", "peer", "source", "command")
TRACE_KINDS = ("endpoint", "run")  # one endpoint's events; a run of the whole system (``run``)
SEGMENT_KEYS = ("t", "seg", "flags", "seq", "ack", "win", "len", "options")
CALL_KEYS = ("t", "call", "result", "len")
MAX_OPTIONS = 40  # octets: a TCP header is at most 60 octets, 20 of them fixed
SEQ_LIMIT = MODULUS
WIN_LIMIT = 2**16


@dataclass(frozen=True)
class Header:
    """The first line: which spec and profile the trace is judged against, and who wrote it."""

    spec: str
    profile: str
    tool: str = TOOL
    endpoint: str | None = None  # "ip:port" of the endpoint under test
    peer: str | None = None
    source: str | None = None  # where the events come from, e.g. a pcap path
    command: str | None = None  # the command that wrote the trace, for a trace kept as evidence


@dataclass(frozen=True)
class SegmentEvent:
    """A segment the endpoint under test sent or received, at ``t`` seconds."""

    t: float
    direction: str  # "out": sent by the endpoint under test; "in": sent to it by its peer
    flags: int  # flags.FLAG_BITS
    seq: int
    ack: int
    win: int
    length: int
    options: str = ""  # the TCP option octets as lowercase hex, verbatim


@dataclass(frozen=True)
class CallEvent:
    """A user call on the endpoint under test and its result, at ``t`` seconds."""

    t: float
    call: str  # one of CALLS
    result: str = "ok"  # "ok" or "error..."
    length: int | None = None  # octets, for SEND


@dataclass(frozen=True)
class Trace:
    """A header and the events in time order."""

    header: Header
    events: tuple[SegmentEvent | CallEvent, ...] = ()


class _Bad(Exception):
    """What is wrong with one line; the reader adds the file and line."""


def _flags(text: str) -> int:
    try:
        return parse_flags(text)
    except ValueError as exc:
        raise _Bad(str(exc)) from None


# ------------------------------------------------------------ reading


def read_trace(path: str | Path) -> Trace:
    """Read and validate a trace file (or a stream: ``source``); bad input raises InputError at "FILE:LINE"."""
    src = source(path, "trace")
    return parse_trace_lines(src.read("trace").split(b"\n"), src.name)


def parse_trace_lines(lines: Iterable[str | bytes], name: str = "<trace>") -> Trace:
    """Validate a trace given as lines (str or bytes); errors name ``name`` and the line."""
    header = None
    events: list[SegmentEvent | CallEvent] = []
    last_t = 0.0
    for number, line in enumerate(lines, 1):
        where = f"{name}:{number}"
        try:
            text = line.decode("utf-8") if isinstance(line, bytes) else line
        except UnicodeDecodeError:
            raise InputError("not UTF-8 text", where=where) from None
        if not text.strip():
            continue
        try:
            record = _json_object(text)
            if header is None:
                header = _header(record)
                continue
            event = _event(record)
            if event.t < last_t:
                raise _Bad(f'"t" goes backwards: {event.t!r} after {last_t!r}')
        except _Bad as exc:
            raise InputError(str(exc), where=where) from None
        last_t = event.t
        events.append(event)
    if header is None:
        raise InputError("empty trace: no header line", where=f"{name}:1")
    return Trace(header, tuple(events))


def _json_object(text: str) -> dict[str, Any]:
    try:
        record = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        raise _Bad(f"bad JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise _Bad("bad JSON: nested too deeply") from None
    except ValueError as exc:  # anything else json or int() refuses
        raise _Bad(f"bad JSON: {str(exc)[:100]}") from None
    if not isinstance(record, dict):
        raise _Bad(f"expected a JSON object, not {_type_name(record)}")
    return record


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = {}
    for key, value in pairs:
        if key in record:
            raise _Bad(f'key "{key}" is given twice')
        record[key] = value
    return record


def _no_constant(word: str) -> NoReturn:
    raise _Bad(f"bad JSON: {word} is not a number")


MAX_DIGITS = 1000  # far more than any number a trace holds (sequence numbers: 10 digits), and quick to read


def _bounded_int(text: str) -> int:
    """A JSON integer, refused when longer than ``MAX_DIGITS`` (Python would take seconds over a
    million digits, and refuses more than 4,300)."""
    if len(text) > MAX_DIGITS:
        raise _Bad(f"bad JSON: a number of {len(text.lstrip('-')):,} digits (at most {MAX_DIGITS})")
    return int(text)


def header_kind(record: dict[str, Any]) -> str:
    """The kind of trace a first line begins (one of TRACE_KINDS); raises _Bad if it is no header."""
    if "tcpmodel_trace" not in record:
        raise _Bad('missing header: the first line must be {"tcpmodel_trace": 1, "spec": ..., "profile": ..., "tool": ...}')
    version = record["tcpmodel_trace"]
    if not isinstance(version, int) or isinstance(version, bool) or version != FORMAT:
        raise _Bad(f'"tcpmodel_trace" is {json.dumps(version)}: this tcpmodel reads trace format {FORMAT}')
    kind = record.get("kind", "endpoint")
    if not isinstance(kind, str) or kind not in TRACE_KINDS:
        raise _Bad(f'"kind" is {json.dumps(kind)}: it must be "endpoint" or "run"')
    return kind


def _header(record: dict[str, Any]) -> Header:
    if header_kind(record) == "run":
        raise _Bad('a run of the whole system ("kind": "run"), not one endpoint\'s trace: `tcpmodel replay` '
                   're-executes it and `tcpmodel audit` judges each of its endpoints')
    _known_keys(record, HEADER_KEYS, "header")
    fields = {key: _string(record, key) for key in ("spec", "profile", "tool")}
    optional = {key: _string(record, key) for key in ("endpoint", "peer", "source", "command") if key in record}
    return Header(**fields, **optional)


def _event(record: dict[str, Any]) -> SegmentEvent | CallEvent:
    if "seg" in record and "call" in record:
        raise _Bad('an event has either "seg" or "call", not both')
    if "seg" in record:
        _known_keys(record, SEGMENT_KEYS, "segment")
        direction = _string(record, "seg")
        if direction not in DIRECTIONS:
            raise _Bad(f'"seg" is "{direction}": it must be "out" or "in"{did_you_mean(direction, DIRECTIONS)}')
        return SegmentEvent(
            t=_time(record),
            direction=direction,
            flags=_flags(_string(record, "flags")),
            seq=_integer(record, "seq", SEQ_LIMIT - 1),
            ack=_integer(record, "ack", SEQ_LIMIT - 1),
            win=_integer(record, "win", WIN_LIMIT - 1),
            length=_integer(record, "len"),
            options=_options(record),
        )
    if "call" in record:
        _known_keys(record, CALL_KEYS, "call")
        call = _string(record, "call")
        if call not in CALLS:
            raise _Bad(f'unknown call "{call}"{did_you_mean(call, CALLS)}')
        result = _string(record, "result")
        if result != "ok" and not result.startswith("error"):
            raise _Bad(f'"result" is "{result}": it must be "ok" or start with "error"')
        if "len" in record and call != "SEND":
            raise _Bad(f'"len" belongs to SEND, not {call}')
        length = _integer(record, "len") if "len" in record else None
        return CallEvent(_time(record), call, result, length)
    raise _Bad('an event needs "seg" (a segment) or "call" (a user call)')


def _known_keys(record: dict[str, Any], keys: tuple[str, ...], what: str) -> None:
    for key in record:
        if key not in keys:
            raise _Bad(f'unknown key "{key}" in a {what}{did_you_mean(key, keys)}')


def _present(record: dict[str, Any], key: str) -> Any:
    if key not in record:
        raise _Bad(f'missing key "{key}"')
    return record[key]


def _string(record: dict[str, Any], key: str) -> str:
    value = _present(record, key)
    if not isinstance(value, str):
        raise _Bad(f'"{key}" must be a string, not {_type_name(value)}')
    if any(unicodedata.category(c) == "Cc" for c in value):  # they would reach terminals and reports as they are
        raise _Bad(f'"{key}" holds a control character: {value[:60]!r}')
    return value


def _integer(record: dict[str, Any], key: str, maximum: int | None = None) -> int:
    value = _present(record, key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Bad(f'"{key}" must be an integer, not {_type_name(value)}')
    if value < 0 or (maximum is not None and value > maximum):
        bound = f"0..{maximum}" if maximum is not None else ">= 0"
        raise _Bad(f'"{key}" is {_shown(value)}: it must be {bound}')
    return value


def _shown(value: object) -> str:
    """A number as an error message quotes it: a long one shortened."""
    text = str(value)
    return text if len(text) <= 24 else f"{text[:12]}... ({len(text):,} characters)"


def _time(record: dict[str, Any]) -> float:
    value = _present(record, "t")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise _Bad(f'"t" must be a number of seconds, not {_type_name(value)}')
    try:
        seconds = float(value)
    except OverflowError:
        seconds = math.inf
    if not math.isfinite(seconds) or seconds < 0:
        raise _Bad(f'"t" is {_shown(value)}: it must be a finite number of seconds >= 0')
    return seconds


def _options(record: dict[str, Any]) -> str:
    if "options" not in record:
        return ""
    text = _string(record, "options")
    try:
        octets = bytes.fromhex(text)
    except ValueError:
        raise _Bad(f'"options" is "{text[:20]}": it must be TCP option octets in hex, two digits each') from None
    if len(octets) > MAX_OPTIONS or octets.hex() != text.lower():
        raise _Bad(f'"options" must be at most {MAX_OPTIONS} octets as hex digits without spaces')
    return octets.hex()


def _type_name(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


# ------------------------------------------------------------ writing


def trace_lines(trace: Trace) -> list[str]:
    """The trace as JSON lines (without newlines), keys in a fixed order."""
    h = trace.header
    header = {"tcpmodel_trace": FORMAT, "spec": h.spec, "profile": h.profile, "tool": h.tool}
    header.update((key, getattr(h, key)) for key in ("endpoint", "peer", "source", "command") if getattr(h, key) is not None)
    lines = [json.dumps(header)]
    for event in trace.events:
        if isinstance(event, SegmentEvent):
            if not 0 <= event.flags < 1 << len(FLAG_ORDER):
                raise ValueError(f"not a valid trace: flags {event.flags} are not a set of {FLAG_ORDER}")
            record = {
                "t": float(event.t),
                "seg": event.direction,
                "flags": flag_text(event.flags),
                "seq": event.seq,
                "ack": event.ack,
                "win": event.win,
                "len": event.length,
                "options": event.options.lower(),
            }
        else:
            record = {"t": float(event.t), "call": event.call, "result": event.result}
            if event.length is not None:
                record["len"] = event.length
        lines.append(json.dumps(record))
    return lines


def write_trace(path: str | Path, trace: Trace) -> None:
    """Write a trace file whole or not at all; an unwritable path raises InputError.

    A trace that would not read back (times going backwards, a number out of range) raises
    ValueError and writes nothing.
    """
    lines = trace_lines(trace)
    try:
        parse_trace_lines(lines, "<written trace>")
    except InputError as exc:
        raise ValueError(f"not a valid trace: {exc}") from None
    text = "\n".join(lines) + "\n"
    write_atomic(Path(path), text.encode("utf-8"), "trace")


def write_atomic(path: Path, data: bytes, what: str) -> None:
    """Write a whole file or nothing: a temporary file in the same folder renamed into place."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise InputError(f"cannot write {what}: {exc.strerror or exc}", where=str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(temporary, path)
    except BaseException as exc:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise InputError(f"cannot write {what}: {exc.strerror or exc}", where=str(path)) from None
        raise
