"""The architecture, checked: one package per stage, imports flowing downwards only (import-linter's
contracts in pyproject.toml), no import circle anywhere, Z3 only in proofs, and printing and
exiting only in the command line."""

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tcpmodel"
LINT = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def lint_imports(cwd: Path, package_parent: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the copy of tcpmodel in ``package_parent``, with the contracts of
    ``cwd``/pyproject.toml."""
    env = {"PYTHONPATH": str(package_parent), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", LINT, "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, check=False)


def copy_of_package(tmp_path: Path) -> Path:
    shutil.copytree(PACKAGE, tmp_path / "tcpmodel", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_contracts_hold(tmp_path):
    done = lint_imports(copy_of_package(tmp_path), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout


def test_every_stage_is_a_layer():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c for c in config if c["id"] == "stages")["layers"]
    named = {name.strip() for layer in layers for name in layer.split("|")}
    stages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert named == stages


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("base/seqnum.py", "from tcpmodel.cli import main  # upward", "Each stage imports only the stages below it BROKEN"),
        ("oracle/judge.py", "from tcpmodel.vectors import generation  # upward", "Each stage imports only the stages below it BROKEN"),
        ("oracle/judge.py", "from tcpmodel.proofs import results  # a sibling", "Each stage imports only the stages below it BROKEN"),
        ("checking/check.py", "import z3  # outside proofs", "Z3 only inside the proofs stage BROKEN"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(tmp_path, module, line, broken):
    copy = copy_of_package(tmp_path)
    path = copy / "tcpmodel" / module
    path.write_text(path.read_text() + f"\n{line}\n")
    done = lint_imports(copy, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert broken in done.stdout


def module_graph() -> nx.DiGraph:
    graph = grimp.build_graph("tcpmodel", exclude_type_checking_imports=True)
    edges = nx.DiGraph()
    for module in graph.modules:
        edges.add_node(module)
        for imported in graph.find_modules_directly_imported_by(module):
            # a package's __init__ importing its own modules is how a package exposes them
            if not imported.startswith(module + "."):
                edges.add_edge(module, imported)
    return edges


def test_no_import_circle():
    cycles = sorted(sorted(c) for c in nx.simple_cycles(module_graph()))
    assert cycles == []


def test_the_circle_check_can_fail():
    graph = module_graph()
    graph.add_edge("tcpmodel.base.seqnum", "tcpmodel.base.errors")
    graph.add_edge("tcpmodel.base.errors", "tcpmodel.base.seqnum")
    assert list(nx.simple_cycles(graph))


def library_modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "cli" or relative.name == "__main__.py" or "programs" in relative.parts:
            continue  # the command line, the entry point, and the stacks' own programs (processes of their own)
        yield relative, ast.parse(path.read_text())


def output_or_exit(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("print", "exit", "quit"):
            found.append(f"{node.func.id}() at line {node.lineno}")
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            name = f"{node.value.id}.{node.attr}"
            if name in ("sys.exit", "sys.stdout", "sys.stderr", "os._exit"):
                found.append(f"{name} at line {node.lineno}")
    return found


def test_only_the_command_line_prints_or_exits():
    offenders = {str(relative): found for relative, tree in library_modules() if (found := output_or_exit(tree))}
    assert offenders == {}


def test_the_print_check_can_fail():
    assert output_or_exit(ast.parse("import sys\nprint('x')\nsys.stderr.write('y')\n")) == ["print() at line 2", "sys.stderr at line 3"]
