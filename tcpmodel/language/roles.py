"""Roles: what the properties (and the observer's ghost fields, part of every system state) read
of a spec, declared by the spec instead of guessed from RFC spellings.

The properties speak of RFC 9293's states (ESTABLISHED, TIME-WAIT, CLOSE-WAIT, the opening and
unsynchronized states, the edges of Figure 5), of two timers (TIME-WAIT's 2·MSL timer, whose
expiry ends a connection in an orderly way, and the user timeout R2, by which an endpoint gives
up) and of four TCB variables (ISS, IRS, SND.NXT, RCV.NXT). A spec names each in its ``[roles]``
table::

    [roles]
    time_wait = "TIME-WAIT"          # the state
    time_wait_timer = "TIME-WAIT"    # the timer
    snd_nxt = "SND.NXT"              # the variable

A role the table leaves out is the spec's state, timer or variable of the RFC spelling (the
"default" below), if it has one. A role that names nothing of its kind is a spec error where it
is written; a state or timer role may be declared absent with ``false`` (the spec has no such
state: the properties that read it have nothing to check there). Whatever reads roles asks for
the ones it needs (``require``): one that is neither found nor declared absent is a spec error
naming the role and the way to declare it, so renaming ``TIME-WAIT`` without saying so can no
longer make a property vacuous or change the observer's state space unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tcpmodel.base.errors import SpecError, did_you_mean


@dataclass(frozen=True)
class Role:
    key: str  # as written in [roles]
    kind: str  # "state", "timer" or "variable"
    default: str  # the RFC 9293 spelling
    what: str


_STATES = (
    ("closed", "CLOSED"), ("listen", "LISTEN"), ("syn_sent", "SYN-SENT"), ("syn_received", "SYN-RECEIVED"),
    ("established", "ESTABLISHED"), ("fin_wait_1", "FIN-WAIT-1"), ("fin_wait_2", "FIN-WAIT-2"), ("close_wait", "CLOSE-WAIT"),
    ("closing", "CLOSING"), ("last_ack", "LAST-ACK"), ("time_wait", "TIME-WAIT"),
)
ROLES: tuple[Role, ...] = (
    *(Role(key, "state", rfc, f"RFC 9293's {rfc} state") for key, rfc in _STATES),
    Role("time_wait_timer", "timer", "TIME-WAIT", "the 2 MSL timer of TIME-WAIT, whose expiry ends a connection in order"),
    Role("user_timer", "timer", "USER", "the user timeout (R2), by which an endpoint gives up"),
    Role("iss", "variable", "ISS", "the initial send sequence number"),
    Role("irs", "variable", "IRS", "the initial receive sequence number"),
    Role("snd_una", "variable", "SND.UNA", "the oldest unacknowledged sequence number"),
    Role("snd_nxt", "variable", "SND.NXT", "the next sequence number to send"),
    Role("rcv_nxt", "variable", "RCV.NXT", "the next sequence number expected"),
)
BY_KEY = {r.key: r for r in ROLES}
BY_STATE = {r.default: r.key for r in ROLES if r.kind == "state"}  # RFC spelling -> role

# What the properties and the observer read: every state and timer role, four variables.
PROPERTY_ROLES = tuple(r.key for r in ROLES if r.kind != "variable") + ("iss", "irs", "snd_nxt", "rcv_nxt")


@dataclass(frozen=True)
class Roles:
    """The spec's name for each role it has (``names``), the roles declared absent, and where
    ``[roles]`` is (for errors)."""

    names: dict[str, str] = field(default_factory=dict)
    absent: frozenset[str] = frozenset()
    where: str = ""

    def get(self, key: str) -> str | None:
        return self.names.get(key)

    def __getitem__(self, key: str) -> str:
        return self.names[key]

    def rfc_state(self, rfc: str) -> str | None:
        """The spec's name of the state RFC 9293 spells ``rfc``, or None."""
        return self.names.get(BY_STATE[rfc])

    def require(self, keys: Iterable[str], who: str) -> None:
        """A spec error unless every role of ``keys`` is found or declared absent."""
        missing = [k for k in keys if k not in self.names and k not in self.absent]
        if missing:
            role = BY_KEY[missing[0]]
            more = f" (and {', '.join(missing[1:])})" if missing[1:] else ""
            absent = " or false if it has none" if role.kind != "variable" else ""
            raise SpecError(f'{who} need the role {role.key}, {role.what}{more}: this spec has no {role.kind} called '
                            f'"{role.default}"; say which it is in [roles] ({role.key} = "..."{absent})', where=self.where)


def resolve(table: dict[str, object], key_where: dict[str, str], where: str,
            names: dict[str, tuple[str, ...]]) -> Roles:
    """The roles of a spec: ``table`` is its [roles], ``names`` its states, timers and variables by kind."""
    found: dict[str, str] = {}
    absent: set[str] = set()
    for key, value in table.items():
        at = key_where.get(key, where)
        role = BY_KEY.get(key)
        if role is None:
            raise SpecError(f'unknown role "{key}"{did_you_mean(key, BY_KEY)}; roles are {", ".join(BY_KEY)}', where=at, field="roles")
        if value is False and role.kind != "variable":
            absent.add(key)
            continue
        choices = names[role.kind]
        if not isinstance(value, str) or value not in choices:
            shown = f'"{value}"' if isinstance(value, str) else repr(value)
            raise SpecError(f"role {key} ({role.what}) must name a {role.kind} of this spec, not {shown}"
                            f"{did_you_mean(value, choices) if isinstance(value, str) else ''}", where=at, field="roles")
        found[key] = value
    for role in ROLES:
        if role.key not in found and role.key not in absent and role.default in names[role.kind]:
            found[role.key] = role.default
    for kind in ("state", "timer", "variable"):
        seen: dict[str, str] = {}
        for key, value in found.items():
            if BY_KEY[key].kind == kind:
                if value in seen:
                    written = key if key in table else seen[value]  # one of the two is written in [roles]
                    raise SpecError(f'roles {seen[value]} and {key} both name {kind} "{value}": each role is a different {kind}',
                                    where=key_where.get(written, where), field="roles")
                seen[value] = key
    return Roles(found, frozenset(absent), where)
