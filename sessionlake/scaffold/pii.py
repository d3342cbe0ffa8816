"""PII candidates in a sample: fields whose name or values look like a person's identifiers.

A candidate is proposed, never decided: the scaffold declares it (`pii:` in the source YAML, `meta: {pii:
{method: hash, ...}}` on the dbt source column, `protect_pii` in the staging model) with a comment asking
the team to confirm, so a false positive costs one deleted declaration and a missed one fails no build
silently: the models' raw-PII guard still checks every value (docs/pii.md).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from sessionlake.scaffold.sample import Field

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
# Name tokens (split on `_` and case changes) that mark a field as a person's data, with the pseudonymous
# column a hash of it becomes. Player ids hash to `user_key`, the key gold joins on.
_PLAYER_IDS = {"user", "player", "account", "customer", "profile"}
_NAME_TOKENS = {
    "email": "email_key",
    "mail": "email_key",
    "ip": "ip_key",
    "ipv4": "ip_key",
    "ipv6": "ip_key",
    "phone": None,
    "msisdn": None,
    "firstname": None,
    "lastname": None,
    "fullname": None,
    "username": None,
    "nickname": None,
    "address": None,
    "street": None,
    "postcode": None,
    "zip": None,
    "birthdate": None,
    "dob": None,
    "latitude": None,
    "longitude": None,
    "idfa": None,
    "gaid": None,
    "imei": None,
}
_TWO_TOKEN_NAMES = {
    ("first", "name"),
    ("last", "name"),
    ("full", "name"),
    ("user", "name"),
    ("display", "name"),
    ("birth", "date"),
    ("date", "of"),
    ("device", "id"),
    ("advertising", "id"),
    ("ip", "address"),
}


@dataclass(frozen=True)
class PiiCandidate:
    field: str
    reason: str
    pseudonym: str  # the column the keyed hash becomes in silver

    @property
    def declaration(self) -> dict[str, str]:
        return {"method": "hash", "as": self.pseudonym}


def _tokens(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [t for t in spaced.lower().split("_") if t]


def _by_name(name: str) -> tuple[str, str] | None:
    tokens = _tokens(name)
    if len(tokens) == 2 and tokens[1] == "id" and tokens[0] in _PLAYER_IDS:
        return "a player id by its name", "user_key"
    for token in tokens:
        if token in _NAME_TOKENS:
            return f"named like personal data ({token})", _NAME_TOKENS[token] or f"{name.lower()}_key"
    for pair in zip(tokens, tokens[1:], strict=False):
        if pair in _TWO_TOKEN_NAMES:
            pseudonym = "ip_key" if pair == ("ip", "address") else f"{name.lower()}_key"
            return f"named like personal data ({'_'.join(pair)})", pseudonym
    return None


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _by_value(values: list[str]) -> tuple[str, str] | None:
    if not values:
        return None
    if all(_EMAIL.match(v) for v in values):
        return "its values are e-mail addresses", "email_key"
    if all(_is_ip(v) for v in values):
        return "its values are IP addresses", "ip_key"
    return None


def pii_candidates(fields: tuple[Field, ...] | list[Field], taken: set[str] | None = None) -> list[PiiCandidate]:
    """Top-level fields that look like PII, in sample order: by name (any scalar type: a numeric player id is
    PII too), or because every sampled string value is an e-mail or IP address. Each gets a pseudonymous
    column no other column (`taken`, compared without case) or candidate has."""
    used = {name.lower() for name in taken or set()} | {f.name.lower() for f in fields}
    found = []
    for entry in fields:
        kind = entry.schema.get("type")
        if kind in ("object", "array") or entry.name in ("event_id", "session_id"):
            continue
        hit = _by_name(entry.name) or (_by_value(entry.values) if kind == "string" else None)
        if not hit:
            continue
        reason, pseudonym = hit
        candidates = [pseudonym, f"{entry.name.lower()}_key"] + [f"{entry.name.lower()}_key_{n}" for n in range(2, 99)]
        pseudonym = next(name for name in candidates if name not in used)
        used.add(pseudonym)
        found.append(PiiCandidate(field=entry.name, reason=reason, pseudonym=pseudonym))
    return found
