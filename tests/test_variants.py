"""Variant specs show why TCP is built as it is: each breaks a named property of the reference."""

import json
import xml.etree.ElementTree as ET

import pytest

from tcpmodel.cli.main import main
from tests.conftest import VARIANTS

# variant -> (the property its design point protects, length of the shortest counterexample)
EXPECTED = {
    "two_way_handshake": ("handshake_agreement", 10),
    "no_time_wait": ("graceful_close", 13),
    "fixed_isn": ("stream_integrity", 9),
    "naive_compare": ("close_completes", 12),
    "time_wait_one_msl": ("graceful_close", 15),
}


def test_every_variant_file_is_covered():
    assert sorted(p.stem for p in VARIANTS.glob("*.toml")) == sorted(EXPECTED)


@pytest.mark.parametrize("variant", sorted(EXPECTED))
def test_variant_violates_its_property_and_writes_the_counterexample(variant, tmp_path, capsys):
    prop, length = EXPECTED[variant]
    code = main(["check", str(VARIANTS / f"{variant}.toml"), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1
    assert f"counterexample for {prop}" in out
    assert "result: VIOLATED:" in out and prop in out.splitlines()[-1]

    lines = (tmp_path / f"{variant}.{prop}.jsonl").read_text().splitlines()
    header, steps = json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
    assert header["tcpmodel_trace"] == 1 and header["kind"] == "run"
    assert header["property"] == prop and header["spec"] == variant
    assert len(steps) == length
    assert [s["index"] for s in steps] == list(range(1, length + 1))
    assert all(s["type"] == "step" for s in steps)
    endpoint_steps = [s for s in steps if s["actor"] != "network"]
    assert endpoint_steps and all(s["rfc"] and s["rule"] for s in endpoint_steps)

    svg_text = (tmp_path / f"{variant}.{prop}.svg").read_text()
    svg = ET.fromstring(svg_text)
    assert svg.tag.endswith("svg")
    received = sum(1 for s in steps if "received" in s)
    assert len(svg.findall(".//{*}line[@class='segment']")) == received
    # every reception is drawn from the step that sent it: a trace starts with an empty network
    assert "(earlier)" not in svg_text


def test_two_way_handshake_counterexample_is_an_old_duplicate_syn(tmp_path, capsys):
    """Why three-way (RFC 9293 §3.5): the passive side accepts a SYN of an earlier incarnation."""
    main(["check", str(VARIANTS / "two_way_handshake.toml"), "--out", str(tmp_path), "--json"])
    result = json.loads(capsys.readouterr().out)
    prop = next(p for p in result["properties"] if p["name"] == "handshake_agreement")
    steps = prop["counterexample"]["steps"]
    opens = [(s["actor"], s["event"]) for s in steps if s.get("event") in ("CONNECT", "LISTEN")]
    assert opens.count(("B", "CONNECT")) == 1 and opens.count(("B", "LISTEN")) == 1, opens
    # B's first incarnation sent a SYN and was closed; that SYN, now an old duplicate, is what A
    # synchronizes with, while B's second incarnation synchronizes with A.
    old_syn = next(s for s in steps if s["actor"] == "A" and s.get("received", {}).get("flags") == "SYN")
    assert old_syn["received"]["incarnation"] == 1
    assert steps[-1]["states"] == {"A": "ESTABLISHED", "B": "ESTABLISHED"}
