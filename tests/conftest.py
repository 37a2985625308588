"""Shared fixtures: the reference spec and a helper to check it under a scenario."""

from pathlib import Path

import pytest

from tcpmodel.check import check
from tcpmodel.scenario import make_scenario
from tcpmodel.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "specs" / "rfc9293.toml"
VARIANTS = ROOT / "specs" / "variants"


@pytest.fixture(scope="session")
def reference():
    return load_spec(REFERENCE)


def check_scenario(spec, **settings):
    return check(spec, make_scenario(spec, settings))
