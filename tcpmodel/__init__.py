"""tcpmodel: a model checker and test oracle for TCP (RFC 9293).

The public API: load a spec, build a scenario, check it, prove its sequence-number obligations,
generate conformance vectors, audit a trace or capture, run the vectors against a real stack::

    import tcpmodel

    spec = tcpmodel.load_spec("specs/rfc9293.toml")
    scenario = tcpmodel.make_scenario(spec, {"incarnations": 1, "loss": False})
    result = tcpmodel.check(spec, scenario)
    assert result.holds, [p.prop.name for p in result.violated]

Everything else is internal to the stage packages (``tcpmodel.language``, ``tcpmodel.checking``,
...) and may change. Bad input raises ``InputError`` (a ``SpecError`` for a spec) with the file,
line, rule and field in its message.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tcpmodel.base.version import __version__

# Lazy imports kept for start-up time: type checkers read the imports below; at run time each
# name is imported on first use through ``_API`` (the command line imports this package first).
if TYPE_CHECKING:
    from tcpmodel.base.errors import InputError, SpecError
    from tcpmodel.checking.check import CheckResult, PropertyResult, check
    from tcpmodel.checking.counterexample import Counterexample
    from tcpmodel.conformance.outcomes import Outcome, Settings
    from tcpmodel.conformance.run import ConformanceRun, conform
    from tcpmodel.engine.explore import Bounds
    from tcpmodel.language.spec import Spec, load_spec
    from tcpmodel.oracle.audit import ConnectionVerdict, FileAudit, audit_file
    from tcpmodel.oracle.judge import Judgement, judge
    from tcpmodel.oracle.profiles import Profile, profile_named
    from tcpmodel.oracle.verdicts import Verdict
    from tcpmodel.proofs.prove import prove
    from tcpmodel.proofs.results import ProofStatus
    from tcpmodel.proofs.results import Result as ProofResult
    from tcpmodel.system.scenario import Scenario, make_scenario
    from tcpmodel.traces.trace import Trace, read_trace
    from tcpmodel.vectors.generation import Suite, Vector
    from tcpmodel.vectors.generation import generate as generate_vectors

# name -> (module, attribute). Loaded on first use (PEP 562), not at import: the command line
# imports this package, and importing every stage (numpy, Z3, dpkt) would slow its start-up.
_API = {
    "InputError": ("tcpmodel.base.errors", "InputError"),
    "SpecError": ("tcpmodel.base.errors", "SpecError"),
    "Spec": ("tcpmodel.language.spec", "Spec"),
    "load_spec": ("tcpmodel.language.spec", "load_spec"),
    "Scenario": ("tcpmodel.system.scenario", "Scenario"),
    "make_scenario": ("tcpmodel.system.scenario", "make_scenario"),
    "Bounds": ("tcpmodel.engine.explore", "Bounds"),
    "check": ("tcpmodel.checking.check", "check"),
    "CheckResult": ("tcpmodel.checking.check", "CheckResult"),
    "PropertyResult": ("tcpmodel.checking.check", "PropertyResult"),
    "Counterexample": ("tcpmodel.checking.counterexample", "Counterexample"),
    "prove": ("tcpmodel.proofs.prove", "prove"),
    "ProofResult": ("tcpmodel.proofs.results", "Result"),
    "ProofStatus": ("tcpmodel.proofs.results", "ProofStatus"),
    "generate_vectors": ("tcpmodel.vectors.generation", "generate"),
    "Suite": ("tcpmodel.vectors.generation", "Suite"),
    "Vector": ("tcpmodel.vectors.generation", "Vector"),
    "Trace": ("tcpmodel.traces.trace", "Trace"),
    "read_trace": ("tcpmodel.traces.trace", "read_trace"),
    "Profile": ("tcpmodel.oracle.profiles", "Profile"),
    "profile_named": ("tcpmodel.oracle.profiles", "profile_named"),
    "Verdict": ("tcpmodel.oracle.verdicts", "Verdict"),
    "Judgement": ("tcpmodel.oracle.judge", "Judgement"),
    "judge": ("tcpmodel.oracle.judge", "judge"),
    "audit_file": ("tcpmodel.oracle.audit", "audit_file"),
    "FileAudit": ("tcpmodel.oracle.audit", "FileAudit"),
    "ConnectionVerdict": ("tcpmodel.oracle.audit", "ConnectionVerdict"),
    "conform": ("tcpmodel.conformance.run", "conform"),
    "ConformanceRun": ("tcpmodel.conformance.run", "ConformanceRun"),
    "Outcome": ("tcpmodel.conformance.outcomes", "Outcome"),
    "Settings": ("tcpmodel.conformance.outcomes", "Settings"),
}

__all__ = [
    "Bounds",
    "CheckResult",
    "ConformanceRun",
    "ConnectionVerdict",
    "Counterexample",
    "FileAudit",
    "InputError",
    "Judgement",
    "Outcome",
    "Profile",
    "ProofResult",
    "ProofStatus",
    "PropertyResult",
    "Scenario",
    "Settings",
    "Spec",
    "SpecError",
    "Suite",
    "Trace",
    "Vector",
    "Verdict",
    "__version__",
    "audit_file",
    "check",
    "conform",
    "generate_vectors",
    "judge",
    "load_spec",
    "make_scenario",
    "profile_named",
    "prove",
    "read_trace",
]


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'tcpmodel' has no attribute {name!r}")
    module, attribute = _API[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
