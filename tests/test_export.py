"""tcpmodel export: the compiled system as a Promela model that Spin explores state for state as
tcpmodel does, and as a TLA+ module for TLC.

The Spin tests run the real tools (spin, gcc) on the exported model and compare Spin's counts with
a live `check` of the same scenario: an independent model checker agreeing on every state and
every transition is the cross-check of the explorer that issue 7 asks for.
"""

import json
import re
import shutil
import subprocess

import pytest

from tcpmodel.cli.main import main
from tcpmodel.language.spec import load_spec
from tests.conftest import REFERENCE, VARIANTS, check_scenario

SPIN = shutil.which("spin") and shutil.which("gcc")
needs_spin = pytest.mark.skipif(not SPIN, reason="spin and gcc are not installed (apt-get install spin gcc)")

# (command-line scenario options, the same as check settings); each small, each exercising a
# different part of the system: a FIFO network; loss, duplication and reordering with the
# absolute-SEQ resets; the timed mode; both users either opening, premature timeouts, no quiet
# time, a fixed ISN, RFC 5961.
SCENARIOS = {
    "fifo": (["--incarnations", "1", "--no-loss", "--no-duplication", "--no-reordering"],
             dict(incarnations=1, loss=False, duplication=False, reordering=False)),
    "lossy_reordering": (["--incarnations", "1", "--data", "0", "--no-abort"], dict(incarnations=1, data=0, abort=False)),
    "timed": (["--incarnations", "1", "--timed", "--data", "0", "--no-abort", "--no-duplication", "--msl", "1", "--roles", "active,passive"],
              dict(incarnations=1, timed=True, data=0, abort=False, duplication=False, msl=1, roles=("active", "passive"))),
    "odd_options": (["--incarnations", "2", "--data", "0", "--no-abort", "--capacity", "1", "--premature-timeouts", "--no-quiet-time",
                     "--isn-stride", "0", "--roles", "either,either", "--enable", "rfc5961"],
                    dict(incarnations=2, data=0, abort=False, capacity=1, premature_timeouts=True, quiet_time=False, isn_stride=0,
                         roles=("either", "either"), enable=["rfc5961"])),
}


def spin_counts(model, tmp_path, *pan_options: str) -> dict:
    """Run Spin with full state storage on ``model``; its statistics as numbers."""
    subprocess.run(["spin", "-a", model.name], cwd=tmp_path, check=True, capture_output=True)
    subprocess.run(["gcc", "-O2", "-fwrapv", "-DNOREDUCE", "-DSAFETY", "-o", "pan", "pan.c"], cwd=tmp_path, check=True, capture_output=True)
    run = subprocess.run(["./pan", "-m100000", "-w20", *pan_options], cwd=tmp_path, check=False, capture_output=True, text=True)
    out = run.stdout
    assert "max search depth too small" not in out
    numbers = {key: int(float(re.search(pattern, out).group(1))) for key, pattern in (
        ("stored", r"([\d.e+]+) states, stored"), ("transitions", r"([\d.e+]+) transitions \(= stored\+matched\)"),
        ("errors", r"errors: (\d+)"))}
    numbers["output"] = out
    return numbers


def export(tmp_path, spec, *options: str) -> None:
    assert main(["export", str(spec), "--out", str(tmp_path), *options]) == 0


@needs_spin
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_spin_explores_the_same_states_and_transitions_as_tcpmodel(name, tmp_path, reference, capsys):
    flags, settings = SCENARIOS[name]
    export(tmp_path, REFERENCE, *flags)
    assert capsys.readouterr().out == f"written:  {tmp_path / 'rfc9293.pml'}\n"
    spin = spin_counts(tmp_path / "rfc9293.pml", tmp_path)
    explored = check_scenario(reference, **settings).exploration
    assert explored.complete and spin["errors"] == 0, spin["output"]
    assert spin["stored"] == explored.count
    assert spin["transitions"] == explored.transitions + 1  # Spin counts the initial state too


@needs_spin
def test_spin_finds_the_two_way_handshakes_disagreement_on_isns(tmp_path, capsys):
    """The model asserts handshake_agreement; the two-way handshake variant breaks it (test_variants)."""
    export(tmp_path, VARIANTS / "two_way_handshake.toml")
    spin = spin_counts(tmp_path / "two_way_handshake.pml", tmp_path)
    assert spin["errors"] == 1
    assert "assertion violated" in spin["output"] and "ep[0].IRS==ep[1].ISS" in spin["output"]
    assert (tmp_path / "two_way_handshake.pml.trail").exists()


@needs_spin
def test_a_variant_exports_with_its_own_scenario_and_spin_counts_every_state(tmp_path, capsys):
    """With -c0 Spin goes on past the violations, so the counts cover the whole space."""
    variant = VARIANTS / "two_way_handshake.toml"
    export(tmp_path, variant, "--incarnations", "1")
    spin = spin_counts(tmp_path / "two_way_handshake.pml", tmp_path, "-c0")
    spec = load_spec(variant)
    explored = check_scenario(spec, incarnations=1).exploration
    assert (spin["stored"], spin["transitions"]) == (explored.count, explored.transitions + 1)


def test_export_is_deterministic_and_records_its_command(tmp_path, capsys):
    export(tmp_path / "one", REFERENCE, "--incarnations", "1", "--no-loss")
    export(tmp_path / "two", REFERENCE, "--incarnations", "1", "--no-loss")
    first = (tmp_path / "one" / "rfc9293.pml").read_text()
    assert first == (tmp_path / "two" / "rfc9293.pml").read_text()
    assert "command:  tcpmodel export " + str(REFERENCE) + " --format promela --incarnations 1 --no-loss\n" in first
    assert "active proctype tcp()" in first and first.count("d_step {") > 10


def test_export_json_names_the_files(tmp_path, capsys):
    assert main(["export", str(REFERENCE), "--out", str(tmp_path), "--json", "--capacity", "1"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["files"] == [str(tmp_path / "rfc9293.pml")] and result["format"] == "promela"
    assert result["scenario"]["capacity"] == 1


@pytest.mark.parametrize("argv, message", [
    (["export", str(REFERENCE), "--format", "dot"], "invalid choice: 'dot'"),
    (["export", str(REFERENCE), "--incarnations", "0"], "incarnations must be a whole number from 1 to 8"),
    (["export", "no/such/spec.toml"], "no/such/spec.toml"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, tmp_path, capsys):
    assert main(argv + ["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_an_unwritable_folder_is_bad_input(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert main(["export", str(REFERENCE), "--out", str(tmp_path / "file" / "sub")]) == 2
    assert "cannot create the folder" in capsys.readouterr().err


def test_check_and_export_take_the_same_scenario_options(capsys):
    def scenario_group(command):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        return text[text.index("scenario (overrides"):text.index("examples:")]

    assert scenario_group("export") == scenario_group("check")


# ---------------------------------------------------------------- TLA+ (TLC is not installed: structure only)

TLA_SCENARIOS = {
    "reordering_timed": ["--incarnations", "1", "--timed"],
    "fifo_lossy": ["--incarnations", "2", "--no-duplication", "--no-reordering", "--enable", "rfc5961"],
}
DEFINITION = re.compile(r"^([A-Za-z_]\w*)(\([^)]*\))? ==", re.M)


def tla_files(tmp_path, *flags: str) -> tuple[str, str]:
    export(tmp_path, REFERENCE, "--format", "tla", *flags)
    return (tmp_path / "rfc9293.tla").read_text(), (tmp_path / "rfc9293.cfg").read_text()


@pytest.mark.parametrize("name", sorted(TLA_SCENARIOS))
def test_tla_module_parses_as_tla(name, tmp_path, capsys):
    """tree-sitter's TLA+ grammar (the one TLA+ editors use) finds no syntax error."""
    import tree_sitter
    import tree_sitter_tlaplus

    module, _ = tla_files(tmp_path, *TLA_SCENARIOS[name])
    tree = tree_sitter.Parser(tree_sitter.Language(tree_sitter_tlaplus.language())).parse(module.encode())
    errors, stack = [], [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            errors.append((node.start_point, node.text[:60]))
        stack.extend(node.children)
    assert errors == []


@pytest.mark.parametrize("name", sorted(TLA_SCENARIOS))
def test_tla_module_parses_with_a_tla_parser_that_knows_junction_lists(name, tmp_path, capsys):
    """The `tla` package's parser (a second, independent grammar) reads bulleted /\\ and \\/ lists
    by their columns, as SANY does, and raises on a syntax error."""
    import tla

    module, _ = tla_files(tmp_path, *TLA_SCENARIOS[name])
    tree = tla.parse(module)
    assert tree is not None and tree.name == "rfc9293"
    with pytest.raises(ValueError):
        tla.parse(module.replace("IN  /\\ h.rule # -1", "IN  /\\ h.rule # ", 1))


@pytest.mark.parametrize("name", sorted(TLA_SCENARIOS))
def test_tla_module_defines_every_operator_before_its_use(name, tmp_path, capsys):
    """SANY's rule: an operator is used only after its definition (or its RECURSIVE declaration)."""
    module, config = tla_files(tmp_path, *TLA_SCENARIOS[name])
    lines = module.splitlines()
    assert lines[0].startswith("-") and " MODULE rfc9293 " in lines[0] and lines[-1].startswith("====")
    defined = {m.group(1): m.start() for m in DEFINITION.finditer(module)}
    recursive = set(re.findall(r"RECURSIVE (\w+)\(", module))
    spans = sorted(defined.values()) + [len(module)]
    for name_, start in defined.items():
        body = module[start:spans[spans.index(start) + 1]]
        for used in set(re.findall(r"\b([A-Za-z_]\w*)\b", body.split("==", 1)[1])) & set(defined):
            assert defined[used] < start or used in recursive, f"{name_} uses {used} before its definition"
    actions = re.search(r"^Next == (.*?)\n\n", module, re.M | re.S).group(1).replace("\\/", " ").split()
    assert actions and all(a in defined for a in actions)
    assert {"Init", "Next", "HandshakeAgreement", "Step_SEGMENT", "Views"} <= set(defined)
    assert config.splitlines()[1:] == ["INIT Init", "NEXT Next", "INVARIANT HandshakeAgreement"]


def test_tla_holds_sequence_numbers_as_32_bit_patterns(tmp_path, capsys):
    """TLC's integers are 32-bit: A's ISN 4294967294 is written as -2, and 2**31 as MinInt."""
    module, _ = tla_files(tmp_path, "--incarnations", "1")
    assert "4294967294" not in module.split("*)", 1)[1]
    assert "<<-2, -2>>[u.opens + 1]" in module
    assert "Offsets == {0, 1, 3, 4, 5, MinInt, -1}" in module
    numbers = [int(n) for n in re.findall(r"(?<![\w.])-?\d+", module.split("*)", 1)[1])]
    assert all(-(2**31) <= n < 2**31 for n in numbers)


def test_tla_channels_are_bags_when_the_network_reorders_and_sequences_when_not(tmp_path, capsys):
    bag, _ = tla_files(tmp_path / "bag", "--incarnations", "1")
    fifo, _ = tla_files(tmp_path / "fifo", "--incarnations", "1", "--no-reordering")
    assert "Deliverable(b) == DOMAIN b" in bag and "Init == ep = <<Initial, Initial>> /\\ ch = <<[x \\in {} |-> 0]" in bag
    assert "Deliverable(q) == IF q = <<>> THEN {} ELSE {Head(q)}" in fifo and "ch = <<<<>>, <<>>>>" in fifo
