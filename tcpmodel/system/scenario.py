"""Scenarios: what the environment does around the spec's two endpoints.

A scenario is kept apart from the rules. Its values come, in this order of precedence, from
command-line flags, the spec's ``[scenario]`` table, and the defaults below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from tcpmodel.base.errors import InputError, did_you_mean
from tcpmodel.base.seqnum import HALF, MODULUS
from tcpmodel.language.declarations import TIMING_RANGE
from tcpmodel.language.spec import Spec

ROLES = ("active", "passive", "either")
ENDPOINTS = ("A", "B")
TIMING_BOUNDS = (TIMING_RANGE.start, TIMING_RANGE.stop - 1)  # MSL and RTO, in ticks: the range spec timers are checked for


@dataclass(frozen=True)
class Scenario:
    """The environment of one exploration.

    roles: how each endpoint's user opens: CONNECT ("active"), LISTEN ("passive") or either.
    incarnations: how many times each user may open the connection on the same 4-tuple.
    data: octets the user hands to SEND, once per incarnation (0: no SEND at all).
    capacity: segments each one-way channel holds; a segment sent into a full channel is lost
      (a full queue drops its tail), and a timer does not fire while its channel is full.
    loss, duplication, reordering: what the network may do to a segment in flight.
    abort: whether a user may ABORT instead of CLOSE.
    timed: discrete ticks; segments age and die after msl ticks; timers count down (rto, ...).
    premature_timeouts: in the untimed mode, let a retransmission timer fire while segments are
      still in flight (by default it fires only once the network is empty: RTO > round trip).
    quiet_time: an endpoint opens a new incarnation only once none of its own earlier segments
      (all of which carry older sequence numbers) is still in the network: RFC 9293 §3.4.3's
      quiet time. Without it, a delayed <SEQ=0><CTL=RST,ACK> that an endpoint sent from CLOSED
      can reset its next connection when that connection's receive window covers 0.
    isn: the initial sequence number of each endpoint's first incarnation, and the step by which
      the ISN clock advances per incarnation (RFC 9293 §3.4.1).
    options: the spec's named options that are switched on.
    """

    roles: tuple[str, str] = ("active", "either")
    incarnations: int = 2
    data: int = 1
    capacity: int = 2
    loss: bool = True
    duplication: bool = True
    reordering: bool = True
    abort: bool = True
    timed: bool = False
    msl: int = 2
    rto: int = 1
    quiet_time: bool = True
    premature_timeouts: bool = False
    isn: tuple[int, int] = (0, 0)
    isn_stride: int = 0
    options: frozenset[str] = frozenset()

    def describe(self) -> dict[str, object]:
        d = asdict(self)
        d["roles"] = dict(zip(ENDPOINTS, self.roles, strict=True))
        d["isn"] = dict(zip(ENDPOINTS, self.isn, strict=True))
        d["options"] = sorted(self.options)
        if not self.timed:
            d.pop("msl")
            d.pop("rto")
        return d

    def summary(self) -> str:
        """One line describing the scenario, for report headers and the check summary."""
        roles = ", ".join(f"{e} {r}" for e, r in zip(ENDPOINTS, self.roles, strict=True))
        parts = [
            roles,
            f"{self.incarnations} incarnation{'s' if self.incarnations != 1 else ''}",
            f"{self.data} octet{'s' if self.data != 1 else ''} each way",
            self.network(),
            f"timed (MSL {self.msl} ticks, RTO {self.rto})" if self.timed else "untimed",
        ]
        if self.abort:
            parts.append("users may ABORT")
        if self.quiet_time:
            parts.append("quiet time")
        if self.premature_timeouts:
            parts.append("premature timeouts")
        if self.options:
            parts.append("options: " + ", ".join(sorted(self.options)))
        return "; ".join(parts)

    def network(self) -> str:
        """One line naming the network behaviour, for report headers."""
        on = [n for n in ("loss", "duplication", "reordering") if getattr(self, n)]
        kind = ", ".join(on) if on else "a perfect FIFO channel"
        return f"capacity {self.capacity} per direction; {kind}"


FIELDS = {f.name for f in fields(Scenario)}


def make_scenario(spec: Spec, overrides: Mapping[str, object] | None = None, where: str = "command line") -> Scenario:
    """The scenario for ``spec``: defaults, then the spec's [isn] and [scenario], then overrides
    (given at ``where``). A bad value is an InputError at the line of the key that gave it."""
    values: dict[str, Any] = {}  # as given (TOML, command line, caller); validate() checks them
    origin: dict[str, str] = {}  # field -> where its value came from

    def at(key: str) -> str:
        return spec.scenario_key_where.get(key, spec.scenario_where)

    isn = spec.isn
    if isn:
        values["isn"] = (isn.get("A", 0), isn.get("B", 0))
        values["isn_stride"] = isn.get("stride", 0)
        origin["isn"] = origin["isn_stride"] = at("[isn]")
    options = {o.name for o in spec.options.values() if o.default}
    sources = ((spec.scenario, at), (overrides or {}, lambda key: where))
    for source, where_of in sources:
        for key, value in source.items():
            if key == "options":
                options = _options(value, spec, where_of(key))
                continue
            if key == "enable" or key == "disable":
                for name in _options(value, spec, where_of(key)):
                    (options.add if key == "enable" else options.discard)(name)
                continue
            if key not in FIELDS:
                raise InputError(f'unknown scenario setting "{key}"{did_you_mean(str(key), FIELDS)}', where=where_of(key))
            values[key] = value
            origin[key] = where_of(key)
    values["options"] = frozenset(options)
    scenario = validate(replace(Scenario(), **_normalise(values, origin)), origin)
    window = spec.constants.get("RCV.WND")
    if window is not None and scenario.data > window:
        raise InputError(
            f"data ({scenario.data}) must fit in the receive window RCV.WND ({window}): "
            "the spec delivers whole segments and does not trim them to the window",
            where=origin.get("data", "scenario"),
        )
    return scenario


def _options(value: object, spec: Spec, where: str) -> set[str]:
    names = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
    out: set[str] = set()
    for n in names:
        if not isinstance(n, str) or n not in spec.options:
            known = ", ".join(sorted(spec.options)) or "none"
            shown = f'"{n}"' if isinstance(n, str) else repr(n)[:60]
            raise InputError(f"unknown option {shown}{did_you_mean(str(n), spec.options)} (this spec has: {known})", where=where)
        out.add(n)
    return out


def _normalise(values: dict[str, Any], origin: dict[str, str]) -> dict[str, Any]:
    """Roles and ISNs as pairs, from the forms a spec or command line may give them in."""
    out = dict(values)
    if "roles" in out:
        roles = out["roles"]
        if isinstance(roles, dict):
            roles = (roles.get("A", "active"), roles.get("B", "either"))
        elif isinstance(roles, str):
            roles = tuple(r.strip() for r in roles.split(","))
        if not isinstance(roles, (list, tuple)):
            raise InputError(f"roles name the role of A and of B, like \"active,either\" or {{ A = \"active\", B = \"either\" }}, "
                             f"not {roles!r}"[:300], where=origin.get("roles", "scenario"))
        out["roles"] = tuple(roles)
    if "isn" in out:
        isn = out["isn"]
        if isinstance(isn, dict):
            isn = (isn.get("A", 0), isn.get("B", 0))
        if not isinstance(isn, (list, tuple)):
            raise InputError(f"isn gives A and B their initial sequence numbers, like {{ A = 0, B = 1000 }} or [0, 1000], not {isn!r}"[:300],
                             where=origin.get("isn", "scenario"))
        out["isn"] = tuple(isn)
    return out


def validate(s: Scenario, origin: Mapping[str, str] | None = None) -> Scenario:
    """``s`` if every field is in range, else an InputError at the field's ``origin``."""
    def bad(name: str, message: str) -> InputError:
        return InputError(message[:400], where=(origin or {}).get(name, "scenario"))

    if len(s.roles) != 2 or any(not isinstance(r, str) or r not in ROLES for r in s.roles):
        raise bad("roles", f"roles must name one of {', '.join(ROLES)} for A and for B, not {s.roles!r}")
    if "active" not in s.roles and "either" not in s.roles:
        raise bad("roles", "no endpoint can open actively, so no connection can ever start")
    for name, low, high in (("incarnations", 1, 8), ("data", 0, 16), ("capacity", 1, 8), ("msl", *TIMING_BOUNDS), ("rto", *TIMING_BOUNDS)):
        value = getattr(s, name)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise bad(name, f"{name} must be a whole number from {low} to {high}, not {value!r}")
    for name in ("loss", "duplication", "reordering", "abort", "timed", "quiet_time", "premature_timeouts"):
        if not isinstance(getattr(s, name), bool):
            raise bad(name, f"{name} must be true or false, not {getattr(s, name)!r}")
    if len(s.isn) != 2 or any(not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < MODULUS for v in s.isn):
        raise bad("isn", f"isn must give A and B a 32-bit number, not {s.isn!r}")
    if not isinstance(s.isn_stride, int) or isinstance(s.isn_stride, bool) or not 0 <= s.isn_stride < HALF:
        raise bad("isn_stride", f"isn stride must be a number from 0 to 2**31-1, not {s.isn_stride!r}")
    return s
