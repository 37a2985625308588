"""The public API: what ``tcpmodel.__all__`` names resolves, lazily, and the README's example runs."""

import re
import subprocess
import sys
from pathlib import Path

import tcpmodel

ROOT = Path(__file__).resolve().parent.parent


def test_every_name_of_the_api_resolves():
    for name in tcpmodel.__all__:
        assert getattr(tcpmodel, name) is not None, name
    assert set(tcpmodel.__all__) <= set(dir(tcpmodel))


def test_an_unknown_name_is_an_attribute_error():
    try:
        tcpmodel.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("tcpmodel.no_such_thing resolved")


def test_import_loads_no_stage():
    """``import tcpmodel`` (which every command does first) loads neither numpy nor Z3."""
    code = "import sys, tcpmodel; print(sorted(m for m in ('numpy', 'z3', 'dpkt', 'tcpmodel.checking') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_verdicts_and_statuses_are_string_enums():
    assert tcpmodel.Verdict.FAIL == "FAIL" and f"{tcpmodel.Verdict.FAIL}" == "FAIL"
    assert [s.value for s in tcpmodel.ProofStatus] == ["proved", "refuted", "unknown"]


def test_the_package_is_typed():
    assert (Path(tcpmodel.__file__).parent / "py.typed").exists()


def test_the_readme_example_runs_and_prints_what_the_readme_says():
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- api-example -->\n```python\n(.*?)```\n\n```text\n(.*?)```", readme, re.S)
    assert match, "the README's API example is missing"
    code, expected = match.groups()
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected


def test_all_is_the_lazy_table():
    assert sorted(tcpmodel.__all__) == sorted(["__version__", *tcpmodel._API])
