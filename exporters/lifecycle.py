"""Hot-warm-cold lifecycle of the session indices: the policy documents (Elasticsearch ILM, OpenSearch ISM) and
their offline validation.

Hot: the write index behind the alias takes the new sessions and rolls over by age or size. Warm: a rolled-over
index still takes the upserts of its sessions' late data (the exporter routes them to it, docs/exporter.md).
Cold: read-only, once no late data can reach it any more. Delete (optional): the index is dropped.
Ages count from the rollover (ILM's `min_age`, ISM's `min_rollover_age`), so they mean the same on both engines.

The validators check a document against the structure each engine documents (phases or states, the actions
each allows, the conditions, time values): the local stack's minimal distributions ship neither ILM nor ISM,
so this is what runs here; the engines with the feature validate the same documents on `sessionlake index policy`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sessionlake.core.errors import ConfigurationError

if TYPE_CHECKING:
    from sessionlake.core.settings import SearchSettings

_TIME_VALUE = re.compile(r"(?P<n>[0-9]+)(?P<unit>d|h|m|s|ms)")
_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
_BYTE_SIZE = re.compile(r"[0-9]+(b|kb|mb|gb|tb|pb)")
HOT_PRIORITY, WARM_PRIORITY, COLD_PRIORITY = 100, 50, 0


def seconds(value: str) -> float:
    """Seconds in an engine time value ('30d', '12h', '0ms')."""
    match = _TIME_VALUE.fullmatch(value)
    if not match:
        raise ValueError(f"{value!r} is not a time value such as 30d")
    return int(match["n"]) * _SECONDS[match["unit"]]


@dataclass(frozen=True)
class LifecyclePlan:
    """When an index rolls over, turns warm, cold (read-only) and, optionally, is deleted."""

    rollover_max_age: str = "1d"
    rollover_max_size: str = "50gb"
    warm_after: str = "2d"
    cold_after: str = "30d"
    delete_after: str | None = None

    def __post_init__(self) -> None:
        order = [("SESSIONLAKE_SEARCH_WARM_AFTER", self.warm_after), ("SESSIONLAKE_SEARCH_COLD_AFTER", self.cold_after)]
        if self.delete_after:
            order.append(("SESSIONLAKE_SEARCH_DELETE_AFTER", self.delete_after))
        for (before, early), (after, late) in zip(order, order[1:], strict=False):
            if seconds(late) <= seconds(early):
                raise ConfigurationError(f"{after}={late} must be later than {before}={early}")

    @classmethod
    def from_settings(cls, search: SearchSettings) -> LifecyclePlan:
        return cls(search.rollover_max_age, search.rollover_max_size, search.warm_after, search.cold_after,
                   search.delete_after)  # fmt: skip


def ilm_policy(plan: LifecyclePlan) -> dict[str, Any]:
    """The body of `PUT _ilm/policy/<name>`."""
    phases: dict[str, Any] = {
        "hot": {
            "min_age": "0ms",
            "actions": {
                "rollover": {"max_age": plan.rollover_max_age, "max_primary_shard_size": plan.rollover_max_size},
                "set_priority": {"priority": HOT_PRIORITY},
            },
        },
        # No forcemerge or shrink: both block writes, and a warm index still takes its sessions' late upserts.
        "warm": {"min_age": plan.warm_after, "actions": {"set_priority": {"priority": WARM_PRIORITY}}},
        "cold": {"min_age": plan.cold_after, "actions": {"set_priority": {"priority": COLD_PRIORITY}, "readonly": {}}},
    }
    if plan.delete_after:
        phases["delete"] = {"min_age": plan.delete_after, "actions": {"delete": {}}}
    return {"policy": {"phases": phases, "_meta": {"managed_by": "sessionlake", "digest": _digest(phases)}}}


def ism_policy(plan: LifecyclePlan, pattern: str, priority: int) -> dict[str, Any]:
    """The body of `PUT _plugins/_ism/policies/<name>`; `ism_template` attaches it to new indices of `pattern`."""

    def to(state: str, age: str) -> list[dict[str, Any]]:
        return [{"state_name": state, "conditions": {"min_rollover_age": age}}]

    states = [
        {
            "name": "hot",
            "actions": [
                {
                    "rollover": {
                        "min_index_age": plan.rollover_max_age,
                        "min_primary_shard_size": plan.rollover_max_size,
                    }
                },  # fmt: skip
                {"index_priority": {"priority": HOT_PRIORITY}},
            ],
            "transitions": to("warm", plan.warm_after),
        },
        {
            "name": "warm",
            "actions": [{"index_priority": {"priority": WARM_PRIORITY}}],
            "transitions": to("cold", plan.cold_after),
        },  # fmt: skip
        {
            "name": "cold",
            "actions": [{"read_only": {}}, {"index_priority": {"priority": COLD_PRIORITY}}],
            "transitions": to("delete", plan.delete_after) if plan.delete_after else [],
        },
    ]
    if plan.delete_after:
        states.append({"name": "delete", "actions": [{"delete": {}}], "transitions": []})
    policy = {
        "default_state": "hot",
        "states": states,
        "ism_template": [{"index_patterns": [pattern], "priority": priority}],
    }
    description = "sessionlake sessions: hot (writes, rollover), warm (late upserts), cold (read-only)"
    return {"policy": {"description": f"{description}; digest {_digest(policy)}", **policy}}


def _digest(body: dict[str, Any]) -> str:
    """What the engines store of a policy differs from what was sent (defaults filled in): a digest of what was
    sent, kept in the policy, tells whether it changed."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


# ILM: the actions each phase allows (Elasticsearch reference, "Index lifecycle actions", 8.x).
ILM_PHASE_ACTIONS: dict[str, frozenset[str]] = {
    "hot": frozenset(
        {
            "set_priority",
            "unfollow",
            "rollover",
            "readonly",
            "downsample",
            "shrink",
            "forcemerge",
            "searchable_snapshot",
        }
    ),  # fmt: skip
    "warm": frozenset(
        {"set_priority", "unfollow", "readonly", "downsample", "allocate", "migrate", "shrink", "forcemerge"}
    ),  # fmt: skip
    "cold": frozenset(
        {"set_priority", "unfollow", "readonly", "downsample", "searchable_snapshot", "allocate", "migrate"}
    ),  # fmt: skip
    "frozen": frozenset({"unfollow", "searchable_snapshot"}),
    "delete": frozenset({"wait_for_snapshot", "delete"}),
}
ILM_ROLLOVER_CONDITIONS = frozenset({"max_age", "max_docs", "max_size", "max_primary_shard_size",
                                     "max_primary_shard_docs", "min_age", "min_docs", "min_size",
                                     "min_primary_shard_size", "min_primary_shard_docs"})  # fmt: skip
# ISM: the actions and transition conditions OpenSearch 2.x documents.
ISM_ACTIONS = frozenset({"rollover", "force_merge", "read_only", "read_write", "replica_count", "shrink", "close",
                         "open", "delete", "rollup", "notification", "snapshot", "index_priority", "allocation",
                         "alias", "transform"})  # fmt: skip
ISM_ROLLOVER_CONDITIONS = frozenset({"min_size", "min_primary_shard_size", "min_doc_count", "min_index_age",
                                     "copy_alias"})  # fmt: skip
ISM_CONDITIONS = frozenset({"min_index_age", "min_rollover_age", "min_doc_count", "min_size", "cron"})


def _time_problem(where: str, value: Any) -> list[str]:
    if isinstance(value, str) and _TIME_VALUE.fullmatch(value):
        return []
    return [f"{where}: {value!r} is not a time value"]


def _rollover_problems(where: str, rollover: Any, allowed: frozenset[str]) -> list[str]:
    if not isinstance(rollover, dict) or not rollover:
        return [f"{where}: a rollover needs at least one condition"]
    problems = [f"{where}: unknown rollover condition {k!r}" for k in rollover if k not in allowed]
    for key, value in rollover.items():
        if key.endswith("_age"):
            problems += _time_problem(f"{where}.{key}", value)
        elif key.endswith("_size") and not (isinstance(value, str) and _BYTE_SIZE.fullmatch(value)):
            problems.append(f"{where}.{key}: {value!r} is not a byte size")
    return problems


def validate_ilm(document: dict[str, Any]) -> list[str]:
    """What is wrong with an ILM policy body (empty: nothing found)."""
    phases = document.get("policy", {}).get("phases")
    if not isinstance(phases, dict) or not phases:
        return ["policy.phases: missing or empty"]
    problems: list[str] = []
    ages: list[tuple[str, float]] = []
    for phase in ("hot", "warm", "cold", "frozen", "delete"):
        if phase not in phases:
            continue
        spec = phases[phase]
        age = spec.get("min_age", "0ms")
        age_problems = _time_problem(f"{phase}.min_age", age)
        problems += age_problems
        if not age_problems:
            ages.append((phase, seconds(age)))
        for action, options in spec.get("actions", {}).items():
            if action not in ILM_PHASE_ACTIONS[phase]:
                problems.append(f"{phase}: action {action!r} is not allowed in this phase")
            elif action == "rollover":
                problems += _rollover_problems(f"{phase}.rollover", options, ILM_ROLLOVER_CONDITIONS)
    problems += [f"phases: unknown phase {p!r}" for p in phases if p not in ILM_PHASE_ACTIONS]
    pairs = zip(ages, ages[1:], strict=False)
    problems += [f"{b}.min_age must not be earlier than {a}.min_age" for (a, x), (b, y) in pairs if y < x]
    return problems


def validate_ism(document: dict[str, Any]) -> list[str]:
    """What is wrong with an ISM policy body (empty: nothing found)."""
    policy = document.get("policy", {})
    problems = [f"policy.{k}: missing" for k in ("description", "default_state", "states") if k not in policy]
    states = policy.get("states") or []
    names = [s.get("name") for s in states]
    if policy.get("default_state") not in names:
        problems.append(f"policy.default_state: {policy.get('default_state')!r} is not one of the states {names}")
    problems += [f"states: {n!r} is defined twice" for n in set(names) if names.count(n) > 1]
    for state in states:
        where = f"state {state.get('name')!r}"
        for action in state.get("actions", []):
            for name, options in action.items():
                if name not in ISM_ACTIONS:
                    problems.append(f"{where}: unknown action {name!r}")
                elif name == "rollover":
                    problems += _rollover_problems(f"{where}.rollover", options, ISM_ROLLOVER_CONDITIONS)
        for transition in state.get("transitions", []):
            if transition.get("state_name") not in names:
                problems.append(f"{where}: transition to unknown state {transition.get('state_name')!r}")
            for key, value in transition.get("conditions", {}).items():
                if key not in ISM_CONDITIONS:
                    problems.append(f"{where}: unknown transition condition {key!r}")
                elif key.endswith("_age"):
                    problems += _time_problem(f"{where}.{key}", value)
    for template in policy.get("ism_template", []):
        if not template.get("index_patterns"):
            problems.append("ism_template: index_patterns missing")
    return problems
