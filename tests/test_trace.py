"""Traces: write and read back, one-line errors at FILE:LINE, and Hypothesis round trips."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpmodel.base.errors import InputError
from tcpmodel.base.flags import FLAG_BITS, SPEC_FLAG_BITS, flag_names, flag_text, parse_flags
from tcpmodel.traces.trace import (
    CallEvent,
    Header,
    SegmentEvent,
    Trace,
    parse_trace_lines,
    read_trace,
    trace_lines,
    write_trace,
)

HEADER = '{"tcpmodel_trace": 1, "spec": "rfc9293", "profile": "rfc9293", "tool": "tcpmodel 0.1.0"}'
SYN = '{"t": 0.0, "seg": "out", "flags": "SYN", "seq": 100, "ack": 0, "win": 65535, "len": 0, "options": "020405b4"}'

EXAMPLE = Trace(
    Header("rfc9293", "linux", "tcpmodel 0.1.0", endpoint="10.0.0.1:80", peer="10.0.0.2:40000", source="run.pcap"),
    (
        CallEvent(0.0, "LISTEN"),
        SegmentEvent(0.25, "in", FLAG_BITS["SYN"], 4294967295, 0, 64240, 0, "020405b40402080a"),
        SegmentEvent(0.25, "out", FLAG_BITS["SYN"] | FLAG_BITS["ACK"], 7, 0, 65535, 0, ""),
        CallEvent(1.5, "SEND", "ok", 10),
        SegmentEvent(1.5, "out", FLAG_BITS["PSH"] | FLAG_BITS["ACK"], 8, 0, 512, 10),
        CallEvent(2.0, "CLOSE", "error: connection reset"),
    ),
)


def test_write_then_read_gives_the_same_trace(tmp_path):
    path = tmp_path / "t.jsonl"
    write_trace(path, EXAMPLE)
    assert read_trace(path) == EXAMPLE
    assert [p.name for p in tmp_path.iterdir()] == ["t.jsonl"]  # no temporary file left behind


def test_written_lines_have_a_fixed_key_order(tmp_path):
    path = tmp_path / "t.jsonl"
    write_trace(path, EXAMPLE)
    lines = path.read_text().splitlines()
    assert lines[0] == (
        '{"tcpmodel_trace": 1, "spec": "rfc9293", "profile": "linux", "tool": "tcpmodel 0.1.0", '
        '"endpoint": "10.0.0.1:80", "peer": "10.0.0.2:40000", "source": "run.pcap"}'
    )
    assert lines[2] == '{"t": 0.25, "seg": "in", "flags": "SYN", "seq": 4294967295, "ack": 0, "win": 64240, "len": 0, "options": "020405b40402080a"}'
    assert lines[4] == '{"t": 1.5, "call": "SEND", "result": "ok", "len": 10}'
    assert lines[5] == '{"t": 1.5, "seg": "out", "flags": "PSH,ACK", "seq": 8, "ack": 0, "win": 512, "len": 10, "options": ""}'
    write_trace(path, EXAMPLE)
    assert path.read_text().splitlines() == lines


def test_flags_in_any_order_and_case_are_written_canonically():
    line = '{"t": 0, "seg": "in", "flags": "ack, fin,Syn", "seq": 1, "ack": 2, "win": 3, "len": 0}'
    trace = parse_trace_lines([HEADER, line])
    event = trace.events[0]
    assert event.flags == FLAG_BITS["FIN"] | FLAG_BITS["SYN"] | FLAG_BITS["ACK"]
    assert event.options == "" and event.t == 0.0
    assert json.loads(trace_lines(trace)[1])["flags"] == "FIN,SYN,ACK"


def test_flag_bits_are_the_tcp_header_bits_and_the_spec_models_four():
    assert FLAG_BITS == {"FIN": 1, "SYN": 2, "RST": 4, "PSH": 8, "ACK": 16, "URG": 32, "ECE": 64, "CWR": 128}
    assert SPEC_FLAG_BITS == {"FIN": 1, "SYN": 2, "RST": 4, "ACK": 16}
    assert flag_text(255) == "FIN,SYN,RST,PSH,ACK,URG,ECE,CWR"
    assert flag_names(255) == "SYN,FIN,RST,ACK" and flag_names(FLAG_BITS["PSH"]) == "none"
    assert flag_text(0) == "" and parse_flags("") == 0
    assert parse_flags(flag_names(0)) == 0 and parse_flags(flag_names(19)) == 19
    assert parse_flags("cwr,ECE") == 192
    with pytest.raises(ValueError, match='unknown flag "PUSH"'):
        parse_flags("SYN,PUSH")


def test_uppercase_option_hex_is_written_as_lowercase(tmp_path):
    trace = Trace(EXAMPLE.header, (SegmentEvent(0.0, "in", 2, 0, 0, 0, 0, "0303FF00"),))
    write_trace(tmp_path / "t.jsonl", trace)
    assert read_trace(tmp_path / "t.jsonl").events[0].options == "0303ff00"


def test_uppercase_option_hex_is_read_as_lowercase():
    line = '{"t": 0, "seg": "in", "flags": "SYN", "seq": 1, "ack": 0, "win": 3, "len": 0, "options": "020405B4"}'
    assert parse_trace_lines([HEADER, line]).events[0].options == "020405b4"


def seg(**change) -> str:
    record = json.loads(SYN)
    record.update(change)
    for key in [k for k, v in change.items() if v is None]:
        del record[key]
    return json.dumps(record)


# (lines, the line the error names, what it says)
ERRORS = {
    "bad_json": ([HEADER, SYN, '{"t": 1, "seg": "in",'], 3, "bad JSON"),
    "not_an_object": ([HEADER, "[1, 2]"], 2, "expected a JSON object, not a list"),
    "missing_header": ([SYN, SYN], 1, 'missing header: the first line must be {"tcpmodel_trace": 1'),
    "header_missing_key": (['{"tcpmodel_trace": 1, "spec": "rfc9293", "tool": "x"}'], 1, 'missing key "profile"'),
    "header_unknown_key": ([HEADER[:-1] + ', "endpoit": "1.2.3.4:5"}'], 1, 'unknown key "endpoit" in a header (did you mean "endpoint"?)'),
    "header_version": ([HEADER.replace('"tcpmodel_trace": 1', '"tcpmodel_trace": 2')], 1, "this tcpmodel reads trace format 1"),
    "unknown_key": ([HEADER, SYN, seg(sqe=5)], 3, 'unknown key "sqe" in a segment (did you mean "seq"?)'),
    "missing_key": ([HEADER, seg(win=None)], 2, 'missing key "win"'),
    "seq_is_a_string": ([HEADER, seg(seq="5")], 2, '"seq" must be an integer, not a string'),
    "win_is_a_float": ([HEADER, seg(win=1.5)], 2, '"win" must be an integer, not a number'),
    "len_is_a_boolean": ([HEADER, seg(len=True)], 2, '"len" must be an integer, not a boolean'),
    "flags_is_a_list": ([HEADER, seg(flags=["SYN"])], 2, '"flags" must be a string, not a list'),
    "seq_too_large": ([HEADER, seg(seq=2**32)], 2, '"seq" is 4294967296: it must be 0..4294967295'),
    "ack_negative": ([HEADER, seg(ack=-1)], 2, '"ack" is -1: it must be 0..4294967295'),
    "win_too_large": ([HEADER, seg(win=65536)], 2, '"win" is 65536: it must be 0..65535'),
    "len_negative": ([HEADER, seg(len=-3)], 2, '"len" is -3: it must be >= 0'),
    "unknown_flag": ([HEADER, seg(flags="SYM,ACK")], 2, 'unknown flag "SYM" (did you mean "SYN"?)'),
    "flag_twice": ([HEADER, seg(flags="ACK,ack")], 2, 'flag "ACK" is given twice'),
    "bad_direction": ([HEADER, seg(seg="inn")], 2, '"seg" is "inn": it must be "out" or "in" (did you mean "in"?)'),
    "options_not_hex": ([HEADER, seg(options="02zz")], 2, '"options" is "02zz": it must be TCP option octets in hex'),
    "options_too_long": ([HEADER, seg(options="01" * 41)], 2, '"options" must be at most 40 octets'),
    "time_backwards": ([HEADER, seg(t=2.0), seg(t=1.5)], 3, '"t" goes backwards: 1.5 after 2.0'),
    "time_negative": ([HEADER, seg(t=-0.5)], 2, '"t" is -0.5: it must be a finite number of seconds >= 0'),
    "time_nan": ([HEADER, SYN.replace('"t": 0.0', '"t": NaN')], 2, "bad JSON: NaN is not a number"),
    "time_huge": ([HEADER, SYN.replace('"t": 0.0', '"t": 1' + "0" * 400)], 2, "must be a finite number of seconds"),
    "time_missing": ([HEADER, seg(t=None)], 2, 'missing key "t"'),
    "duplicate_key": ([HEADER, SYN[:-1] + ', "seq": 5}'], 2, 'key "seq" is given twice'),
    "neither_seg_nor_call": ([HEADER, '{"t": 0}'], 2, 'an event needs "seg" (a segment) or "call" (a user call)'),
    "both_seg_and_call": ([HEADER, seg(call="CLOSE")], 2, 'an event has either "seg" or "call", not both'),
    "unknown_call": ([HEADER, '{"t": 0, "call": "CLOZE", "result": "ok"}'], 2, 'unknown call "CLOZE" (did you mean "CLOSE"?)'),
    "bad_result": ([HEADER, '{"t": 0, "call": "CLOSE", "result": "fine"}'], 2, '"result" is "fine": it must be "ok" or start with "error"'),
    "missing_result": ([HEADER, '{"t": 0, "call": "CLOSE"}'], 2, 'missing key "result"'),
    "len_on_close": ([HEADER, '{"t": 0, "call": "CLOSE", "result": "ok", "len": 1}'], 2, '"len" belongs to SEND, not CLOSE'),
    "unknown_call_key": ([HEADER, '{"t": 0, "call": "SEND", "result": "ok", "lenght": 1}'], 2, 'unknown key "lenght" in a call (did you mean "len"?)'),
    "after_blank_lines": ([HEADER, "", "  ", seg(win="x")], 4, '"win" must be an integer'),
    "only_blank_lines": (["", " "], 1, "empty trace: no header line"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_bad_trace_is_one_error_naming_file_and_line(case, tmp_path):
    lines, line, message = ERRORS[case]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as caught:
        read_trace(path)
    text = str(caught.value)
    assert text.startswith(f"{path}:{line}: "), text
    assert message in text
    assert "\n" not in text


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    with pytest.raises(InputError, match=f"^{path}:1: empty trace: no header line$"):
        read_trace(path)


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(HEADER.encode() + b'\n{"t": 0, "call": "CLOSE", "result": "error: caf\xe9"}\n')
    with pytest.raises(InputError, match=f"^{path}:2: not UTF-8 text$"):
        read_trace(path)


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.jsonl"
    with pytest.raises(InputError, match=f"^{path}: cannot read trace: No such file or directory$"):
        read_trace(path)


def test_deep_nesting_is_an_input_error():
    with pytest.raises(InputError, match=r"^<trace>:2: bad JSON"):
        parse_trace_lines([HEADER, "[" * 100000 + "]" * 100000])


@pytest.mark.parametrize(
    "event,message",
    [
        (SegmentEvent(1.0, "out", 0, 0, 0, 0, 0), '<written trace>:8: "t" goes backwards: 1.0 after 2.0'),
        (SegmentEvent(3.0, "out", 256, 0, 0, 0, 0), "flags 256 are not a set of"),
        (SegmentEvent(3.0, "out", 0, 2**32, 0, 0, 0), '"seq" is 4294967296'),
        (CallEvent(3.0, "SEND", "maybe"), '"result" is "maybe"'),
    ],
)
def test_an_invalid_trace_is_not_written(tmp_path, event, message):
    path = tmp_path / "t.jsonl"
    write_trace(path, EXAMPLE)
    before = path.read_bytes()
    with pytest.raises(ValueError, match=r"^not a valid trace: ") as caught:
        write_trace(path, Trace(EXAMPLE.header, (*EXAMPLE.events, event)))
    assert message in str(caught.value)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.jsonl"]


def test_unwritable_path_is_an_input_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match=f"^{tmp_path}/file/t.jsonl: cannot write trace: "):
        write_trace(tmp_path / "file" / "t.jsonl", EXAMPLE)
    write_trace(tmp_path / "new" / "folder" / "t.jsonl", EXAMPLE)
    assert read_trace(tmp_path / "new" / "folder" / "t.jsonl") == EXAMPLE


# ------------------------------------------------------------ Hypothesis

times = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
segments = st.builds(
    SegmentEvent,
    t=st.just(0.0),
    direction=st.sampled_from(["out", "in"]),
    flags=st.integers(0, 255),
    seq=st.integers(0, 2**32 - 1),
    ack=st.integers(0, 2**32 - 1),
    win=st.integers(0, 65535),
    length=st.integers(0, 2**40),
    options=st.binary(max_size=40).map(bytes.hex),
)
calls = st.builds(
    CallEvent,
    t=st.just(0.0),
    call=st.sampled_from(["LISTEN", "CONNECT", "SEND", "CLOSE", "ABORT"]),
    result=st.one_of(st.just("ok"), st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs"))).map(lambda s: "error" + s)),
)
sends = st.builds(CallEvent, t=st.just(0.0), call=st.just("SEND"), result=st.just("ok"), length=st.integers(0, 2**31))
# a trace's strings hold no control characters (they would reach terminals and reports): those read back
text = st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs")))
optional_text = st.one_of(st.none(), text)
headers = st.builds(Header, spec=text, profile=text, tool=text, endpoint=optional_text, peer=optional_text, source=optional_text)


@st.composite
def traces(draw):
    events = []
    t = 0.0
    for event in draw(st.lists(st.one_of(segments, calls, sends), max_size=12)):
        t = draw(st.one_of(st.just(t), times.filter(lambda x, t=t: x >= t)))
        events.append(event.__class__(**{**event.__dict__, "t": t}))
    return Trace(draw(headers), tuple(events))


@settings(max_examples=150, deadline=None)
@given(traces())
def test_random_traces_round_trip(trace):
    lines = trace_lines(trace)
    assert parse_trace_lines(lines) == trace
    assert parse_trace_lines([line.encode() for line in lines]) == trace


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=60), st.binary(max_size=60)), max_size=4))
def test_garbage_lines_give_an_input_error_or_a_trace(lines):
    try:
        trace = parse_trace_lines([HEADER, *lines])
    except InputError as exc:
        assert str(exc).startswith("<trace>:")
    else:
        assert all(math.isfinite(e.t) for e in trace.events)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["t", "seg", "flags", "seq", "ack", "win", "len", "options", "call", "result", "x"]),
                       st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8), st.lists(st.integers(), max_size=2))))
def test_malformed_events_give_an_input_error_or_a_valid_event(record):
    try:
        trace = parse_trace_lines([HEADER, json.dumps(record)])
    except InputError as exc:
        assert str(exc).startswith("<trace>:2: ")
    else:
        assert parse_trace_lines(trace_lines(trace)) == trace
