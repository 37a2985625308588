#!/usr/bin/env python3
"""The Linux conformance run checked against packetdrill, on the same vectors and the same kernel.

Run from the repository root, as root:

    PACKETDRILL=/path/to/packetdrill python benchmarks/packetdrill_crosscheck.py [--vectors SEL] [--quick]
    python benchmarks/packetdrill_crosscheck.py --packetdrill-source DIR [--vectors SEL] [--quick]

1. Exports the vectors as packetdrill scripts with ``python -m tcpmodel vectors specs/rfc9293.toml
   --format packetdrill`` (``tcpmodel/packetdrill.py``), and keeps those that ``--vectors`` selects
   (``--quick``: the vectors of the spec's rules only, ``*.rule.*``).
2. Runs every script under packetdrill (https://github.com/google/packetdrill), one at a time, each
   in a fresh network namespace this script creates and always removes (``tcpmodel.host.netns``), with
   the sysctls the Linux adapter pins (``tcpmodel.conformance.stacks.linux.SYSCTLS``), so that both tools meet
   the same kernel behaviour. packetdrill makes its own TUN device (tun0) and addresses in it. A
   script passes when packetdrill exits 0; one that runs longer than ``--timeout`` is killed.
3. Runs ``python -m tcpmodel conform --stack linux --json`` on the same vectors (it, too, gives each
   vector a namespace of its own), and reads each vector's verdict.
4. Prints, and writes to benchmarks/RESULTS-packetdrill.md: how many scripts pass under packetdrill
   and how many vectors PASS under tcpmodel, the agreement matrix (both pass, only one, neither),
   every vector the tools disagree on with packetdrill's one-line error, those errors grouped by
   kind, and each tool's time per vector (wall clock, ``time.perf_counter``). packetdrill's time is
   given twice: the packetdrill process alone, and with this script's namespace set-up (creating
   it, writing the sysctls through ``netns.set_sysctls``, deleting it), which is what tcpmodel's
   time per vector includes too. A run of a subset (``--vectors``, ``--quick``) writes nothing
   unless ``--results PATH`` says where.

They are not the same judge. packetdrill compares each segment with the one the script writes,
field by field and at the time the script says (within 4 ms by default); it cannot wait for silence
or accept one of several answers, so a script writes the first answer the spec allows and the
others as comments, and nothing the kernel sends after the script's last line is looked at.
tcpmodel's oracle accepts any answer the spec allows and checks that nothing else is sent. Nor
is every stimulus the same: a segment "out of window" goes just beyond the window the kernel
advertised in tcpmodel's run, and 65535 beyond RCV.NXT in a script, which cannot read the window.
The results group the disagreements by these causes as far as the script can tell them apart
(``BLIND_SPOTS``, ``OUT_OF_WINDOW``). Vectors that ``tcpmodel/packetdrill.py`` does not export
(they wait for the USER timeout or TIME-WAIT, or make a user call on a passive connection before
accept() can return it) are in neither count.

packetdrill: taken from ``PACKETDRILL`` (the path of a binary) when set; else built from
``--packetdrill-source DIR`` (a checkout of its repository, or its gtests/net/packetdrill folder)
in ``--build-dir`` (default ~/.cache/tcpmodel/packetdrill, outside this tree), installing gcc, make,
bison and flex with apt-get when they are missing; else a ``packetdrill`` on PATH; else the script
exits 2 saying how to get it. None of packetdrill's code is in this repository.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's tcpmodel, not another installed copy

from tcpmodel.conformance.harness import select
from tcpmodel.conformance.stacks.linux import SYSCTLS
from tcpmodel.conformance.stacks.linux import unavailable_reason as linux_unavailable
from tcpmodel.host.netns import namespace, set_sysctls

RESULTS = ROOT / "benchmarks" / "RESULTS-packetdrill.md"
BUILT_FROM = "tcpmodel-built-from.txt"  # beside a binary this script built: the source's commit
SPEC = "specs/rfc9293.toml"
QUICK = "*.rule.*"
BUILD_TOOLS = ("gcc", "make", "bison", "flex")
HOW = ("build packetdrill from its source (a clone of https://github.com/google/packetdrill) with "
       "--packetdrill-source DIR, or set PACKETDRILL=/path/to/packetdrill")
# packetdrill's complaint: "<script>:<line>: <message>", then the script's and the actual packet.
COMPLAINT = re.compile(r"^(?P<path>.+?\.pkt):(?P<line>\d+): (?P<message>.+)$")


def missing(message: str) -> None:
    print(message, file=sys.stderr)
    sys.exit(2)


# ------------------------------------------------------------ getting packetdrill


def find_packetdrill(source: Path | None, build_dir: Path) -> str:
    named = os.environ.get("PACKETDRILL")
    if named:
        if not (os.path.isfile(named) and os.access(named, os.X_OK)):
            missing(f"PACKETDRILL={named} is not an executable file: {HOW}")
        return named
    if source is not None:
        return build_packetdrill(source, build_dir)
    found = shutil.which("packetdrill")
    if not found:
        missing(f"packetdrill is not available: {HOW}")
    return found


def source_folder(source: Path) -> Path | None:
    """The folder holding packetdrill.c: ``source`` itself or its gtests/net/packetdrill."""
    for folder in (source, source / "gtests" / "net" / "packetdrill"):
        if (folder / "packetdrill.c").is_file() and (folder / "Makefile.common").is_file():
            return folder
    return None


def build_packetdrill(source: Path, build_dir: Path) -> str:
    """Copy packetdrill's source into ``build_dir`` and make it there (make rebuilds only what changed)."""
    folder = source_folder(source)
    if folder is None:
        missing(f"--packetdrill-source {source}: no packetdrill.c there or in gtests/net/packetdrill: {HOW}")
    absent = [tool for tool in BUILD_TOOLS if shutil.which(tool) is None]
    if absent:
        install = ["apt-get", "install", "-y", *BUILD_TOOLS]
        if os.geteuid() != 0:
            missing(f"building packetdrill needs {', '.join(absent)}: install them with `sudo {' '.join(install)}`, then run again")
        print(f"installing {', '.join(absent)} to build packetdrill", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(install, env=env, stdout=subprocess.DEVNULL, check=False).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, stdout=subprocess.DEVNULL, check=False)
            if subprocess.run(install, env=env, stdout=subprocess.DEVNULL, check=False).returncode != 0:
                missing(f"`{' '.join(install)}` failed: install {', '.join(absent)}, then run again")
    build_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(folder, build_dir, dirs_exist_ok=True)
    print(f"building packetdrill in {build_dir} ...", flush=True)
    for argv in (["sh", "configure"], ["make", "packetdrill"]):
        done = subprocess.run(argv, cwd=build_dir, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or [f"exit {done.returncode}"]
            missing(f"building packetdrill failed at `{' '.join(argv)}` in {build_dir}: {last[0]}")
    commit = subprocess.run(["git", "-C", str(source), "log", "-1", "--format=%h (%cs)"], capture_output=True, text=True, check=False)
    origin = f"google/packetdrill commit {commit.stdout.strip()}" if commit.returncode == 0 else f"the source in {source}"
    (build_dir / BUILT_FROM).write_text(f"built by this script from {origin}\n")
    return str(build_dir / "packetdrill")


# ------------------------------------------------------------ packetdrill's side


@dataclass
class ScriptRun:
    name: str
    passed: bool
    error: str  # packetdrill's one-line error ("" when it passed)
    seconds: float  # the packetdrill process
    overall: float  # with the namespace's creation, sysctls and deletion


def export(out: Path) -> list[Path]:
    """The scripts ``tcpmodel vectors --format packetdrill`` writes, sorted by name."""
    command = [sys.executable, "-m", "tcpmodel", "vectors", SPEC, "--out", str(out), "--format", "packetdrill"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"tcpmodel vectors failed (exit {done.returncode}): {done.stderr.strip()}")
    return sorted(out.glob("*.pkt"))


@dataclass(frozen=True)
class Named:
    name: str
    path: Path


def selected(paths: list[Path], selector: str | None) -> list[Path]:
    """The scripts whose vector (the file's name less .pkt) ``selector`` picks, as conform's --vectors."""
    return [n.path for n in select([Named(p.stem, p) for p in paths], selector)]


def run_script(packetdrill: str, path: Path, timeout: float) -> ScriptRun:
    """One script under packetdrill in a fresh namespace with the Linux adapter's sysctls."""
    started = time.perf_counter()
    with namespace() as ns:
        read_back = set_sysctls(ns, SYSCTLS)
        wrong = [f"{name} = {read_back[name]}" for name, value in SYSCTLS.items() if read_back[name] != str(value)]
        if wrong:
            sys.exit(f"the namespace's sysctls do not read back as written: {', '.join(wrong)}")
        begun = time.perf_counter()
        try:
            done = subprocess.run(["ip", "netns", "exec", ns.name, packetdrill, str(path)],
                                  capture_output=True, text=True, timeout=timeout, check=False)
            passed, error = done.returncode == 0, "" if done.returncode == 0 else one_line_error(done.stdout + done.stderr, done.returncode)
        except subprocess.TimeoutExpired:
            passed, error = False, f"no end within {timeout:g} s (killed)"
        seconds = time.perf_counter() - begun
    return ScriptRun(path.stem, passed, error, seconds, time.perf_counter() - started)


def parse_complaint(output: str) -> dict | None:
    """packetdrill's error: the script line, the message, and the script's and actual packet when
    it gives them; None when the output holds no complaint of that form."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        match = COMPLAINT.match(line.strip())
        if match:
            found = {"line": int(match["line"]), "message": match["message"].strip()}
            for rest in lines[i + 1:]:
                for side in ("script", "actual"):
                    if rest.strip().startswith(f"{side} packet:"):
                        found[side] = " ".join(rest.split(":", 1)[1].split()[1:])  # without its time
            return found
    return None


def one_line_error(output: str, returncode: int) -> str:
    complaint = parse_complaint(output)
    if complaint is None:
        text = " ".join(output.split())
        return text[:200] if text else f"exit {returncode} without a message"
    text = f"line {complaint['line']}: {complaint['message']}"
    if "script" in complaint or "actual" in complaint:
        text += f" (script: {complaint.get('script', '?')}; actual: {complaint.get('actual', '?')})"
    return text


def error_kind(error: str) -> str:
    """What an error is about, with its line, numbers and packets left out, to group errors by."""
    text = re.sub(r"^line \d+: ", "", error)
    text = re.sub(r" \(script: .*\)$", "", text)
    text = re.sub(r" \(0x[0-9a-f]+\)", "", text)
    text = re.sub(r"\d+(\.\d+)?", "N", text)
    return text


# ------------------------------------------------------------ tcpmodel's side


@dataclass
class ConformRun:
    verdicts: dict[str, str]  # vector -> PASS, FAIL, INCONCLUSIVE, SKIPPED, ERROR
    reasons: dict[str, str]
    seconds: dict[str, float]  # vector -> its run, namespace included (conform's "seconds")
    rfc: dict[str, list[str]]  # vector -> the RFC sections behind what the oracle allowed at a FAIL
    overall: float  # the whole command: generating the vectors, running and judging them
    command: str


def run_conform(selector: str | None, out: Path) -> ConformRun:
    words = ["conform", "--stack", "linux", "--json", "--no-progress", "--out", str(out)]
    if selector:
        words += ["--vectors", selector]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tcpmodel", *words], cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        sys.exit(f"tcpmodel conform failed (exit {done.returncode}): {done.stderr.strip()}")
    data = json.loads(done.stdout)
    shown = [w for w in words if w not in ("--json", "--no-progress", "--out", str(out))]
    vectors = data["vectors"]
    return ConformRun({v["vector"]: v["verdict"] for v in vectors}, {v["vector"]: v["reason"] for v in vectors},
                      {v["vector"]: v["seconds"] for v in vectors}, {v["vector"]: v.get("rfc") or [] for v in vectors},
                      seconds, "tcpmodel " + " ".join(f"'{w}'" if "*" in w or "," in w else w for w in shown))


# ------------------------------------------------------------ the comparison


def agreement(scripts: dict[str, ScriptRun], verdicts: dict[str, str]) -> dict[str, list[str]]:
    """The vectors of ``scripts`` by outcome: both pass, only packetdrill, only tcpmodel, neither.
    A vector tcpmodel did not run counts as not passing there."""
    cells = {"both pass": [], "only packetdrill passes": [], "only tcpmodel passes": [], "neither passes": []}
    for name in sorted(scripts):
        by_packetdrill, by_tcpmodel = scripts[name].passed, verdicts.get(name) == "PASS"
        if by_packetdrill and by_tcpmodel:
            cells["both pass"].append(name)
        elif by_packetdrill:
            cells["only packetdrill passes"].append(name)
        elif by_tcpmodel:
            cells["only tcpmodel passes"].append(name)
        else:
            cells["neither passes"].append(name)
    return cells


# Why packetdrill passes a script whose vector tcpmodel FAILs, by what the oracle said.
BLIND_SPOTS = {
    "the spec allowed no segment": "the kernel sent a segment where the spec allows none: a script cannot wait for "
    "silence, so packetdrill does not look after the script's last line",
    "the endpoint sent nothing more": "the kernel sent nothing where the spec requires a segment in tcpmodel's run, and "
    "the segment in packetdrill's",
}
OUT_OF_WINDOW = ("out of window: conform's tester sends the segment at RCV.NXT plus the window the kernel advertised, "
                 "the first number beyond it, where Linux takes a segment as in window; the script sends it 65535 "
                 "beyond RCV.NXT, out of every window")


def reason_kinds(conform: ConformRun, names: list[str]) -> list[tuple[str, list[str]]]:
    """tcpmodel's reasons for ``names`` with numbers left out, grouped, the largest group first."""
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(error_kind(f"{conform.verdicts.get(name, 'not run')}: {conform.reasons.get(name, '')}"), []).append(name)
    return sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))


def blind_spot(kind: str, names: list[str]) -> str:
    """Why packetdrill passed where tcpmodel did not, for a group of ``reason_kinds``."""
    why = [text for key, text in BLIND_SPOTS.items() if key in kind]
    beyond = sum(name.endswith(".out_of_window") for name in names)
    if beyond == len(names):
        why.append(OUT_OF_WINDOW)
    elif beyond:
        why.append(f"the {beyond} {OUT_OF_WINDOW}")
    return "; ".join(why)


def error_kinds(scripts: dict[str, ScriptRun], names: list[str]) -> list[tuple[str, list[str]]]:
    """packetdrill's errors for ``names`` grouped by kind, the largest group first."""
    groups: dict[str, list[str]] = {}
    for name in names:
        if not scripts[name].passed:
            groups.setdefault(error_kind(scripts[name].error), []).append(name)
    return sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))


def report(facts: dict, scripts: dict[str, ScriptRun], conform: ConformRun) -> tuple[str, str]:
    """The figures as text for the terminal and as Markdown for RESULTS-packetdrill.md."""
    n = len(scripts)
    cells = agreement(scripts, conform.verdicts)
    passed = sum(s.passed for s in scripts.values())
    tcp_counts: dict[str, int] = {}
    for name in scripts:
        verdict = conform.verdicts.get(name, "not run")
        tcp_counts[verdict] = tcp_counts.get(verdict, 0) + 1
    per_pd = sum(s.seconds for s in scripts.values()) / n
    per_pd_all = sum(s.overall for s in scripts.values()) / n
    per_tcp = sum(conform.seconds.get(name, 0.0) for name in scripts) / n
    times = [("packetdrill (process)", per_pd), ("packetdrill (with its namespace)", per_pd_all), ("tcpmodel conform", per_tcp)]
    totals = {
        "packetdrill": f"{passed} of {n} scripts pass",
        "tcpmodel": f"{tcp_counts.get('PASS', 0)} of {n} vectors PASS ("
                    + ", ".join(f"{count} {verdict}" for verdict, count in sorted(tcp_counts.items())) + ")",
    }
    text = [f"{k + ':':<19}{v}" for k, v in {**facts, **totals}.items()]
    text += ["", "agreement:"] + [f"  {cell:<26}{len(names):>5}" for cell, names in cells.items()]
    text += ["", "time per vector:"] + [f"  {tool:<34}{seconds:>7.3f} s" for tool, seconds in times]
    if cells["neither passes"]:
        text += ["", "neither passes, by packetdrill's error:"]
        text += [f"  {len(names):>4}  {kind}" for kind, names in error_kinds(scripts, cells["neither passes"])]
    if cells["only packetdrill passes"]:
        text += ["", "only packetdrill passes, by tcpmodel's reason:"]
        text += [f"  {len(names):>4}  {kind}" for kind, names in reason_kinds(conform, cells["only packetdrill passes"])]
    if cells["only tcpmodel passes"]:
        text += ["", "only tcpmodel passes, by packetdrill's error:"]
        text += [f"  {len(names):>4}  {kind}" for kind, names in error_kinds(scripts, cells["only tcpmodel passes"])]
    for cell in ("only packetdrill passes", "only tcpmodel passes"):
        if cells[cell]:
            text += ["", f"{cell}:"]
            text += [f"  {name}  [tcpmodel {conform.verdicts.get(name, 'not run')}]"
                     + (f"  packetdrill: {scripts[name].error}" if scripts[name].error else "") for name in cells[cell]]
    md = ["# tcpmodel conform vs packetdrill on Linux", "", "generated by benchmarks/packetdrill_crosscheck.py; do not edit", ""]
    md += [f"- {k}: {v}" for k, v in facts.items()]
    md += ["", "## Totals", ""] + [f"- {k}: **{v}**" for k, v in totals.items()]
    md += ["", "## Agreement", "", "| | tcpmodel PASS | tcpmodel not PASS |", "|---|---:|---:|",
           f"| packetdrill passes | {len(cells['both pass'])} | {len(cells['only packetdrill passes'])} |",
           f"| packetdrill fails | {len(cells['only tcpmodel passes'])} | {len(cells['neither passes'])} |"]
    md += ["", "## Time per vector", "", "| tool | seconds per vector | total seconds |", "|---|---:|---:|"]
    md += [f"| {tool} | {seconds:.3f} | {seconds * n:.1f} |" for tool, seconds in times]
    md += ["", "packetdrill (process): the packetdrill command alone; with its namespace: also creating the namespace, "
           "writing the sysctls and deleting it, as tcpmodel's figure (conform's seconds of each vector) includes. "
           f"The whole conform command, generating and judging the vectors too, took {conform.overall:.1f} s "
           f"for {len(conform.verdicts)} vectors."]
    if cells["only packetdrill passes"]:
        md += ["", "## Only packetdrill passes: tcpmodel's reasons by kind", "",
               "| vectors | tcpmodel | why packetdrill passes | for example |", "|---:|---|---|---|"]
        md += [f"| {len(names)} | {_cell(kind)} | {_cell(blind_spot(kind, names))} | {', '.join(f'`{n}`' for n in names[:3])} |"
               for kind, names in reason_kinds(conform, cells["only packetdrill passes"])]
    if cells["only tcpmodel passes"]:
        md += ["", "## Only tcpmodel passes: packetdrill's errors by kind", "", "| scripts | packetdrill's error | for example |", "|---:|---|---|"]
        md += [f"| {len(names)} | {_cell(kind)} | {', '.join(f'`{n}`' for n in names[:3])} |"
               for kind, names in error_kinds(scripts, cells["only tcpmodel passes"])]
    for cell in ("only packetdrill passes", "only tcpmodel passes"):
        if cells[cell]:
            md += ["", f"## {cell[0].upper()}{cell[1:]}", "", "| vector | tcpmodel | packetdrill |", "|---|---|---|"]
            md += [f"| `{name}` | {conform.verdicts.get(name, 'not run')}: {_cell(conform.reasons.get(name, ''))} | "
                   f"{_cell(scripts[name].error) or 'pass'} |" for name in cells[cell]]
    if cells["neither passes"]:
        md += ["", "## Neither passes: packetdrill's errors by kind", "",
               "Both tools find the kernel departing from the script; tcpmodel's reasons are the oracle's for those vectors.", "",
               "| scripts | packetdrill's error | tcpmodel's reasons | for example |", "|---:|---|---|---|"]
        for kind, names in error_kinds(scripts, cells["neither passes"]):
            reasons = sorted({_reason_kind(conform, name) for name in names})
            md.append(f"| {len(names)} | {_cell(kind)} | {_cell('; '.join(reasons))} | {', '.join(f'`{n}`' for n in names[:3])} |")
    return "\n".join(text) + "\n", "\n".join(md) + "\n"


def _reason_kind(conform: ConformRun, name: str) -> str:
    """tcpmodel's verdict and the RFC sections its oracle gave (numbers of the run left out)."""
    verdict = conform.verdicts.get(name, "not run")
    rfc = conform.rfc.get(name) or []
    return f"{verdict}: {', '.join(rfc)}" if rfc else f"{verdict}: {error_kind(conform.reasons.get(name, ''))}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def packetdrill_version(packetdrill: str) -> str:
    """Where the binary came from: the commit it was built from when this script built it."""
    note = Path(packetdrill).parent / BUILT_FROM
    if note.is_file():
        return note.read_text().strip()
    return f"{packetdrill} (given; its source commit unknown)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vectors", metavar="SEL", help="only these vectors (comma-separated substrings or globs, as conform's --vectors)")
    parser.add_argument("--quick", action="store_true", help=f"only the vectors of the spec's rules ({QUICK})")
    parser.add_argument("--timeout", type=float, default=20.0, metavar="S", help="per packetdrill script (default: %(default)s s)")
    parser.add_argument("--packetdrill-source", type=Path, metavar="DIR", help="build packetdrill from this checkout of its source")
    parser.add_argument("--build-dir", type=Path, default=Path.home() / ".cache" / "tcpmodel" / "packetdrill",
                        metavar="DIR", help="where packetdrill is built (default: %(default)s)")
    parser.add_argument("--results", type=Path, metavar="PATH",
                        help=f"where the Markdown goes (default: {RESULTS.relative_to(ROOT)} for a full run; none for a subset)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep the exported scripts and tcpmodel's traces in DIR")
    args = parser.parse_args(argv)
    if args.quick and args.vectors:
        parser.error("--quick and --vectors: give one")
    reason = linux_unavailable()
    if reason:
        missing(f"the kernel cannot be tested here: {reason}")
    packetdrill = find_packetdrill(args.packetdrill_source, args.build_dir)
    selector = QUICK if args.quick else args.vectors
    results = args.results or (None if selector else RESULTS)
    with tempfile.TemporaryDirectory(prefix="tcpmodel-packetdrill-") as directory:
        work = Path(args.keep) if args.keep else Path(directory)
        paths = selected(export(work / "scripts"), selector)
        if not paths:
            missing(f"no exported script matches --vectors {selector!r}")
        print(f"packetdrill: {len(paths)} scripts, one at a time ...", flush=True)
        scripts, started = {}, time.perf_counter()
        for number, path in enumerate(paths, 1):
            scripts[path.stem] = run_script(packetdrill, path, args.timeout)
            if number % 50 == 0 or number == len(paths):
                print(f"  [{number}/{len(paths)}] {sum(s.passed for s in scripts.values())} pass "
                      f"({time.perf_counter() - started:.0f} s)", flush=True)
        print("tcpmodel conform --stack linux on the same vectors ...", flush=True)
        conform = run_conform(selector, work / "conform")
        print(f"  {len(conform.verdicts)} vectors in {conform.overall:.0f} s", flush=True)
    facts = {
        "machine": f"{cpu_model()}, {os.cpu_count()} cores, Linux {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packetdrill build": packetdrill_version(packetdrill),
        "vectors": f"{len(scripts)} exported scripts" + (f" selected by {selector!r}" if selector else ""),
        "commands": f"`tcpmodel vectors {SPEC} --format packetdrill`; `{conform.command}`; "
                    f"packetdrill SCRIPT in a fresh namespace, timeout {args.timeout:g} s",
        "sysctls": ", ".join(f"{name}={value}" for name, value in SYSCTLS.items()),
    }
    text, md = report(facts, scripts, conform)
    print()
    print(text, end="")
    if results:
        results.write_text(md)
        print(f"written:     {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
