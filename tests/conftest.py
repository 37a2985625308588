"""Shared fixtures: the reference spec and a helper to check it under a scenario."""

from pathlib import Path

import pytest

from tcpmodel.checking.check import check
from tcpmodel.language.spec import load_spec
from tcpmodel.system.scenario import make_scenario

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "specs" / "rfc9293.toml"
VARIANTS = ROOT / "specs" / "variants"


@pytest.fixture(scope="session")
def reference():
    return load_spec(REFERENCE)


def check_scenario(spec, **settings):
    return check(spec, make_scenario(spec, settings))


def require_stack(name: str):
    """The stack module ``name``, if it can run here. Otherwise the test is skipped with the
    reason, unless TCPMODEL_REQUIRE_STACKS names it (or says "all"): CI sets it, so that there a
    stack that cannot run fails its tests instead of skipping them."""
    import os

    from tcpmodel.conformance.stacks import stack_module

    module = stack_module(name)
    reason = module.unavailable_reason()
    if reason:
        required = {n.strip() for n in os.environ.get("TCPMODEL_REQUIRE_STACKS", "").split(",") if n.strip()}
        if name in required or "all" in required:
            pytest.fail(f"the {name} stack is required here (TCPMODEL_REQUIRE_STACKS) but cannot run: {reason}")
        pytest.skip(reason)
    return module


def benchmark_module(name: str):
    """Import ``benchmarks/<name>.py`` (not a package) for a test of its pure parts; a generator
    for a fixture to ``yield from``: the module is registered while the test runs, since
    dataclasses look their module up while a class is made."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]
