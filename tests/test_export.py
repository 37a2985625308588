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

from tcpmodel.cli import main
from tcpmodel.spec import load_spec
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
    run = subprocess.run(["./pan", "-m100000", "-w20", *pan_options], cwd=tmp_path, capture_output=True, text=True)
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
