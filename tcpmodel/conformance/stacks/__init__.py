"""Real TCP stacks the conformance harness (``tcpmodel.conformance.harness``) can drive, one module each.

A stack module has ``NAME``, ``unavailable_reason()`` (why it cannot run here, or None),
``describe()`` (what the report says about it: release, settings) and
``run(vector, settings, model_window)``: run one vector (``Vector.as_dict()``) in a fresh
isolated stack and return the ``harness.Recording``, raising ``harness.StackHung`` when it did not
finish within ``settings.timeout`` (the stack's process is then killed). What it needs installed
it names in ``DEBIAN_PACKAGES`` and ``PYPI_PACKAGES``; a stack with a program of its own builds it
in ``prepare()`` (``tcpmodel stacks --install`` does all three, see ``install``).

The user-space stacks run as a process each, driven by ``process`` over a socketpair (packets)
and a line protocol (user calls); their C and Go programs are built by ``build``.
"""

import importlib
from types import ModuleType

from tcpmodel.base.errors import InputError, did_you_mean

STACKS = ("linux", "pytcp", "slirp", "lwip", "gvisor")


def stack_module(name: str) -> ModuleType:
    if name not in STACKS:
        raise InputError(f'unknown stack "{name}"{did_you_mean(name, STACKS)}; stacks: {", ".join(STACKS)}')
    return importlib.import_module(f"tcpmodel.conformance.stacks.{name}")
