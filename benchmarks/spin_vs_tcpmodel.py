#!/usr/bin/env python3
"""tcpmodel against Spin (and TLC) on the same model: three scenarios of specs/rfc9293.toml.

Run from the repository root:

    python benchmarks/spin_vs_tcpmodel.py [--only S,M,L] [--results PATH] [--keep DIR]

For each scenario (S about 10^4 states, M about 10^6, L the default scenario, about 10^7):

1. ``python -m tcpmodel check specs/rfc9293.toml SCENARIO --json`` in a child process: the time to
   a verdict (the whole command: loading and compiling the spec, the exploration, every property
   including the liveness ones on the whole state graph), the explorer's own seconds from the
   JSON, the peak resident memory of the process (``os.wait4``'s ``ru_maxrss``). When the JSON
   gives reduced and unreduced counts, both are reported; the counts compared with Spin's are the
   unreduced ones.
2. ``python -m tcpmodel export ... --format promela``, then Spin with full state storage:
   ``spin -a``, ``gcc -O2 -fwrapv -DNOREDUCE -DSAFETY -DMEMLIM=...``, ``./pan -m... -w...``. Spin's
   time is the three together (the compile is counted); its memory the peak resident memory of
   ``pan`` (gcc's is reported beside it). The hash table (``-w``) is sized to tcpmodel's state count, as a Spin user sizes it after
   a first run; the depth bound (``-m``) is raised and the run repeated if pan reports it too small.
3. When the environment variable TLA2TOOLS names a tla2tools.jar (it is in no package registry, so
   never in CI): ``tcpmodel export --format tla`` and ``java -cp $TLA2TOOLS tlc2.TLC -workers auto
   -deadlock``. TLC reports distinct states (compared with tcpmodel's states) and states generated
   (reported, not compared: TLC counts the initial state and every successor it computes).

The counts must agree: Spin's "states, stored" equals tcpmodel's states and its "transitions
(= stored+matched)" equals tcpmodel's transitions + 1 (Spin counts the initial state). The script
prints the figures and writes them to benchmarks/RESULTS.md (generated; do not edit), with the
machine described. Exit status: 0 the counts agree, 1 they do not (or a tool failed), 2 spin or
gcc missing and not installable. Times are wall clock (``time.perf_counter``); no timing is
asserted anywhere. Run it alone on the machine (``nice`` if others share it): the L scenario
takes minutes in tcpmodel and about 1.5 GB in Spin.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = "specs/rfc9293.toml"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SCENARIOS = {  # name: (what it is, scenario options)
    "S": ("one incarnation, FIFO network without loss", ["--incarnations", "1", "--no-loss", "--no-duplication", "--no-reordering"]),
    "M": ("one incarnation, loss, duplication and reordering", ["--incarnations", "1"]),
    "L": ("the default scenario: two incarnations, loss, duplication and reordering", []),
}
PAN_BUILD = ["-O2", "-fwrapv", "-DNOREDUCE", "-DSAFETY", "-DMEMLIM=16384"]
MB = 1 << 20


@dataclass
class Run:
    """One tool on one scenario."""

    tool: str
    seconds: float  # to a verdict, every step counted
    peak_bytes: int
    states: int = 0
    transitions: int | None = None
    detail: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.states / self.seconds if self.seconds else 0.0

    @property
    def bytes_per_state(self) -> float:
        return self.peak_bytes / self.states if self.states else 0.0


def measured(command: list[str], cwd: Path, out: Path) -> tuple[float, int, int]:
    """Run ``command`` with its output in ``out``: (seconds, exit status, peak resident bytes)."""
    with open(out, "wb") as sink:
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    return seconds, child.returncode, usage.ru_maxrss * 1024


def fail(message: str) -> None:
    print(f"spin_vs_tcpmodel: {message}", file=sys.stderr)
    sys.exit(1)


# ------------------------------------------------------------ the tools


def run_tcpmodel(flags: list[str], work: Path, reduce: bool = False) -> Run:
    """``tcpmodel check`` on the scenario; with ``reduce``, under its proven reduction (the counts
    are then the reduced ones and take no part in the agreement with Spin)."""
    flags = [*flags, "--reduce"] if reduce else flags
    out = work / ("check-reduced.json" if reduce else "check.json")
    seconds, status, peak = measured([sys.executable, "-m", "tcpmodel", "check", SPEC, *flags, "--json", "--out", str(work / "ce")], ROOT, out)
    try:
        result = json.loads(out.read_text())
    except ValueError:
        fail(f"tcpmodel check exited {status} without JSON: {out.read_text()[-400:]}")
    if not result.get("complete"):
        fail(f"tcpmodel check did not finish: {result.get('stop_reason')}")
    unreduced = result.get("unreduced") if isinstance(result.get("unreduced"), dict) and not reduce else {}
    run = Run("tcpmodel --reduce" if reduce else "tcpmodel", seconds, peak, unreduced.get("states", result["states"]),
              unreduced.get("transitions", result["transitions"]))
    memory = result.get("memory") if isinstance(result.get("memory"), dict) else {}
    run.detail = {"explore_seconds": result.get("seconds"), "exit": status,
                  "holds": all(p["holds"] for p in result["properties"]),
                  # the state store's own bytes per state (code, hash slot, parent link), as pan's
                  # "as stored + overhead" is Spin's
                  "store_bytes": memory.get("bytes_per_state")}
    if isinstance(result.get("reduced"), dict):
        run.detail["reduced"] = result["reduced"]
    return run


def export(flags: list[str], fmt: str, work: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tcpmodel", "export", SPEC, "--format", fmt, "--out", str(work), *flags],
                          cwd=ROOT, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        fail(f"tcpmodel export failed: {done.stderr.strip()}")
    return time.perf_counter() - start


def run_spin(flags: list[str], work: Path, expected_states: int) -> Run:
    exported = export(flags, "promela", work)
    steps = {}
    seconds, status, peak = measured(["spin", "-a", "rfc9293.pml"], work, work / "spin.out")
    steps["spin -a"] = seconds
    if status:
        fail(f"spin -a failed: {(work / 'spin.out').read_text()[-400:]}")
    seconds, status, compile_peak = measured(["gcc", *PAN_BUILD, "-o", "pan", "pan.c"], work, work / "gcc.out")
    steps["gcc"] = seconds
    if status:
        fail(f"gcc failed: {(work / 'gcc.out').read_text()[-400:]}")
    width = max(18, math.ceil(math.log2(max(expected_states, 2))) + 1)
    depth = 100_000
    while True:
        seconds, status, pan_peak = measured(["./pan", f"-m{depth}", f"-w{width}"], work, work / "pan.out")
        text = (work / "pan.out").read_text()
        if "max search depth too small" not in text:
            break
        depth *= 10
    steps["pan"] = seconds
    numbers = {}
    for key, patterns in (("states", [r"([\d.e+]+) states, stored"]), ("transitions", [r"([\d.e+]+) transitions \(= stored\+matched\)"]),
                          ("errors", [r"errors: (\d+)"]), ("depth", [r"depth reached (\d+)"]),
                          # bytes per state in the store: as stored plus overhead when pan says so, else the vector
                          ("vector", [r"state-vector as stored = (\d+) byte \+ (\d+) byte overhead", r"State-vector (\d+) byte"])):
        found = next((m for m in (re.search(p, text) for p in patterns) if m), None)
        if not found:
            fail(f"pan's output has no {key}: {text[-600:]}")
        numbers[key] = sum(int(float(g)) for g in found.groups())
    run = Run("Spin", sum(steps.values()), pan_peak, numbers["states"], numbers["transitions"] - 1)
    run.detail = {"steps": steps, "export_seconds": exported, "compile_peak": max(peak, compile_peak), "errors": numbers["errors"],
                  "stored_bytes": numbers["vector"], "depth": numbers["depth"], "options": f"-m{depth} -w{width}"}
    return run


def run_tlc(flags: list[str], work: Path, jar: str) -> Run:
    export(flags, "tla", work)
    command = ["java", "-XX:+UseParallelGC", "-cp", jar, "tlc2.TLC", "-workers", "auto", "-deadlock", "-config", "rfc9293.cfg", "rfc9293.tla"]
    seconds, status, peak = measured(command, work, work / "tlc.out")
    text = (work / "tlc.out").read_text()
    distinct = re.search(r"([\d,]+) distinct states found", text)
    generated = re.search(r"([\d,]+) states generated", text)
    if not distinct:
        fail(f"TLC's output has no distinct state count (exit {status}): {text[-600:]}")
    run = Run("TLC", seconds, peak, int(distinct.group(1).replace(",", "")))
    run.detail = {"generated": int(generated.group(1).replace(",", "")) if generated else None, "exit": status}
    return run


# ------------------------------------------------------------ the machine


def first_line(command: list[str]) -> str:
    try:
        done = subprocess.run(command, check=False, capture_output=True, text=True)
    except OSError:
        return "not installed"
    return ((done.stdout or done.stderr).strip().splitlines() or ["unknown"])[0].strip()


def machine(jar: str | None) -> dict[str, str]:
    cpu, memory = platform.processor() or "unknown", 0
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = int(line.split()[1]) * 1024
    described = {
        "machine": f"{cpu}, {os.cpu_count()} cores, {memory / (1 << 30):.1f} GiB RAM, Linux {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "spin": first_line(["spin", "-V"]),
        "gcc": first_line(["gcc", "--version"]),
    }
    if jar:
        described["java"] = first_line(["java", "-version"])
        described["tlc"] = jar
    return described


def ensure_spin() -> None:
    missing = [tool for tool in ("spin", "gcc") if not shutil.which(tool)]
    if not missing:
        return
    how = f"apt-get install -y {' '.join(missing)}"
    if os.geteuid() != 0:
        print(f"spin_vs_tcpmodel: {', '.join(missing)} missing and this is not root: install with `sudo {how}`", file=sys.stderr)
        sys.exit(2)
    print(f"installing {', '.join(missing)} ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(how.split(), env=env, stdout=subprocess.DEVNULL, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, stdout=subprocess.DEVNULL, check=False)
        subprocess.run(how.split(), env=env, stdout=subprocess.DEVNULL, check=False)
    if any(not shutil.which(tool) for tool in missing):
        print(f"spin_vs_tcpmodel: could not install {', '.join(missing)}: `{how}`", file=sys.stderr)
        sys.exit(2)


# ------------------------------------------------------------ report


def agreement(runs: list[Run]) -> list[str]:
    """What disagrees with tcpmodel's counts (empty when everything agrees)."""
    base, problems = runs[0], []
    for run in runs[1:]:
        if run.states != base.states:
            problems.append(f"{run.tool} stored {run.states:,} states, tcpmodel {base.states:,}")
        if run.transitions is not None and run.transitions != base.transitions:
            problems.append(f"{run.tool} made {run.transitions:,} transitions, tcpmodel {base.transitions:,}")
        if run.detail.get("errors"):
            problems.append(f"{run.tool} reported {run.detail['errors']} errors")
    return problems


def report(described: dict, rows: list[tuple[str, list[Run], list[str], Run]], command: str) -> str:
    md = ["# tcpmodel check vs Spin (and TLC) on the same model", "", "generated by benchmarks/spin_vs_tcpmodel.py; do not edit", "",
          f"command: `{command}`", ""]
    md += [f"- {k}: {v}" for k, v in described.items()]
    md += ["", "Each scenario of specs/rfc9293.toml runs in `tcpmodel check` and, exported by `tcpmodel export`, in Spin with "
           "full state storage (`spin -a`, `gcc " + " ".join(PAN_BUILD) + "`, `./pan`; Spin's seconds count all three). "
           "Seconds are wall clock to a verdict; memory is the peak resident set of the checking process (`ru_maxrss`; for Spin, of `pan`); bytes per "
           "state are peak memory ÷ states, and, in the store, the bytes each stored state takes in the tool's own state "
           "store (tcpmodel: its 64-bit code, hash slot and parent link, `memory.bytes_per_state` of `check --json`; "
           "Spin: pan's \"as stored + overhead\"). Spin's transitions are its \"transitions (= stored+matched)\" less "
           "one: it counts the initial state too. `tcpmodel --reduce` is the same check under its proven reduction "
           "(segments' causes merged, see `tcpmodel check --help`); its counts are the reduced ones and are not "
           "compared with Spin's.", ""]
    md += ["| scenario | tool | states | transitions | seconds | states/s | peak MB | bytes/state | in the store | agree |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, runs, problems, reduced in rows:
        for run in [*runs, reduced]:
            transitions = f"{run.transitions:,}" if run.transitions is not None else "—"
            store = run.detail.get("store_bytes") or run.detail.get("stored_bytes")
            agree = "—" if run is reduced else "yes" if not problems else "NO"
            md.append(f"| {name} | {run.tool} | {run.states:,} | {transitions} | {run.seconds:.1f} | {run.rate:,.0f} | "
                      f"{run.peak_bytes / MB:,.0f} | {run.bytes_per_state:,.0f} | {store if store else '—'} | {agree} |")
    md += ["", "| scenario | options | tcpmodel ÷ Spin (time) | tcpmodel --reduce ÷ Spin (time) | tcpmodel ÷ Spin (memory) |",
           "|---|---|---:|---:|---:|"]
    for name, runs, _, reduced in rows:
        tcpmodel, spin = runs[0], runs[1]
        flags = " ".join(SCENARIOS[name][1]) or "(defaults)"
        md.append(f"| {name} | `{flags}` | **{tcpmodel.seconds / spin.seconds:.2f}** | {reduced.seconds / spin.seconds:.2f} | "
                  f"{tcpmodel.peak_bytes / spin.peak_bytes:.2f} |")
    md += ["", "Details:", ""]
    for name, runs, problems, _ in rows:
        tcpmodel, spin = runs[0], runs[1]
        md.append(f"- {name} ({SCENARIOS[name][0]}): tcpmodel explored in {tcpmodel.detail['explore_seconds']:.1f} s of its "
                  f"{tcpmodel.seconds:.1f} s, every property {'holds' if tcpmodel.detail['holds'] else 'NOT holding'}"
                  + (f"; reduced: {json.dumps(tcpmodel.detail['reduced'], sort_keys=True)}" if "reduced" in tcpmodel.detail else "")
                  + f". Spin: {', '.join(f'{k} {v:.1f} s' for k, v in spin.detail['steps'].items())} (export "
                  f"{spin.detail['export_seconds']:.1f} s, not counted; gcc's peak memory {spin.detail['compile_peak'] / MB:,.0f} MB), "
                  f"`./pan {spin.detail['options']}`, depth reached "
                  f"{spin.detail['depth']:,}, {spin.detail['stored_bytes']} bytes per state in its store.")
        for run in runs[2:]:
            md.append(f"- {name}: TLC {run.states:,} distinct states, {run.detail['generated'] or 0:,} states generated, exit {run.detail['exit']}.")
        md += [f"- {name}: DISAGREEMENT: {p}" for p in problems]
    return "\n".join(md) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="S,M,L", help="the scenarios to run, of S, M, L (default: %(default)s)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the Markdown goes (default: benchmarks/RESULTS.md)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep the exported models and tool outputs in DIR")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    if not names or any(n not in SCENARIOS for n in names):
        parser.error(f"--only takes some of {', '.join(SCENARIOS)}, not {args.only!r}")
    ensure_spin()
    jar = os.environ.get("TLA2TOOLS") or None
    if jar and not Path(jar).is_file():
        parser.error(f"TLA2TOOLS names no file: {jar}")
    described = machine(jar)
    for key, value in described.items():
        print(f"{key + ':':<9}{value}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="tcpmodel-spin-") as directory:
        for name in names:
            work = Path(directory) / name
            work.mkdir()
            print(f"\n{name}: {SCENARIOS[name][0]} ({' '.join(SCENARIOS[name][1]) or 'defaults'})", flush=True)
            runs = [run_tcpmodel(SCENARIOS[name][1], work)]
            runs.append(run_spin(SCENARIOS[name][1], work, runs[0].states))
            if jar:
                runs.append(run_tlc(SCENARIOS[name][1], work / "tla", jar))
            reduced = run_tcpmodel(SCENARIOS[name][1], work, reduce=True)
            for run in [*runs, reduced]:
                transitions = f"{run.transitions:>12,}" if run.transitions is not None else f"{'—':>12}"
                print(f"  {run.tool:<9}{run.states:>12,} states {transitions} transitions {run.seconds:>8.1f} s "
                      f"{run.peak_bytes / MB:>8,.0f} MB {run.bytes_per_state:>6,.0f} B/state", flush=True)
            problems = agreement(runs)
            print("  counts agree" if not problems else "  DISAGREE: " + "; ".join(problems), flush=True)
            rows.append((name, runs, problems, reduced))
            if args.keep:
                shutil.copytree(work, args.keep / name, dirs_exist_ok=True)
    command = "python benchmarks/spin_vs_tcpmodel.py" + (f" --only {','.join(names)}" if names != list(SCENARIOS) else "")
    args.results.write_text(report(described, rows, command))
    print(f"\nwritten: {args.results}")
    return 1 if any(problems for _, _, problems, _ in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
