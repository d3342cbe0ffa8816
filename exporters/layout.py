"""Where the session documents live: an alias over numbered indices, all made from one index template.

`<alias>` (SESSIONLAKE_EXPORT_INDEX) is the one name everyone reads and writes through: the exporter, `forget`,
analysts and dashboards. Behind it lie `<alias>-000001`, `-000002`, … (each rollover adds one) or, after a
`sessionlake index reindex`, `<alias>-<yyyymmddhhmmss>-000001` and its successors; the newest is the write index.
The composable index template `sessionlake-<alias>` (pattern `<alias>-*`) gives every new index the explicit
mapping, the replicas and the lifecycle policy, also when the engine's lifecycle rolls the alias over by itself.

A deployment from before the alias has one plain index called `<alias>`: it keeps working as it is
(`Layout.PLAIN`); `sessionlake index reindex` moves it behind an alias while export goes on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from sessionlake.exporters.engines import SearchEngine

log = logging.getLogger(__name__)
FIRST_GENERATION = "000001"
LOOKUP_CHUNK = 5_000  # ids per lookup search: two hits each stay within the default max_result_window (10,000)
_WRITE_BLOCK = "index.blocks.write"


class Layout(Enum):
    MISSING = "missing"  # nothing exported yet
    PLAIN = "plain"  # one index named like the alias (from before the alias)
    ALIAS = "alias"


@dataclass(frozen=True)
class IndexSet:
    """What the alias name stands for right now."""

    layout: Layout
    indices: tuple[str, ...]  # concrete index names, oldest first
    write_index: str | None


class IndexLayout:
    def __init__(
        self, client: Any, engine: SearchEngine, alias: str, replicas: int = 0, policy: str | None = None
    ) -> None:
        self.client = client
        self.engine = engine
        self.alias = alias
        self.replicas = replicas
        self.policy = policy
        self._own = re.compile(rf"{re.escape(alias)}-([0-9]{{14}}-)?[0-9]{{6,}}")

    @property
    def template_name(self) -> str:
        return f"sessionlake-{self.alias}"

    @property
    def pattern(self) -> str:
        return f"{self.alias}-*"

    @property
    def priority(self) -> int:
        """Longer alias, higher priority: `sessions-eu-*` wins over `sessions-*` for `sessions-eu-000001`, and two
        templates whose patterns overlap never share a priority (the engines refuse that)."""
        return 100 + len(self.alias)

    def resolve(self) -> IndexSet:
        indices = self.client.indices
        if not indices.exists(index=self.alias):
            return IndexSet(Layout.MISSING, (), None)
        if not indices.exists_alias(name=self.alias):
            return IndexSet(Layout.PLAIN, (self.alias,), self.alias)
        members = dict(indices.get_alias(name=self.alias))
        names = tuple(sorted(members, key=_generation_order))
        writers = [n for n in names if members[n]["aliases"][self.alias].get("is_write_index")]
        return IndexSet(Layout.ALIAS, names, writers[0] if writers else (names[-1] if len(names) == 1 else None))

    def template_body(self, properties: dict[str, Any]) -> dict[str, Any]:
        settings: dict[str, Any] = {"number_of_replicas": self.replicas}
        if self.policy:
            settings.update(self.engine.lifecycle_settings(self.policy, self.alias))
        body: dict[str, Any] = {
            "index_patterns": [self.pattern],
            "priority": self.priority,
            "template": {"settings": settings, "mappings": {"dynamic": False, "properties": properties}},
            **self.engine.template_options(),
        }
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        return body | {"_meta": {"managed_by": "sessionlake", "alias": self.alias, "digest": digest}}

    def put_template(self, properties: dict[str, Any]) -> bool:
        """Create or update the index template; False when it was already this one."""
        body = self.template_body(properties)
        if self.client.indices.exists_index_template(name=self.template_name):
            [current] = self.client.indices.get_index_template(name=self.template_name)["index_templates"]
            if current["index_template"].get("_meta", {}).get("digest") == body["_meta"]["digest"]:
                return False
        self.client.indices.put_index_template(name=self.template_name, body=body)
        log.info("index template %s (%s) written", self.template_name, self.pattern)
        return True

    def create(self) -> str:
        """The first index, as the alias's write index (the template gives it mapping and settings)."""
        name = f"{self.alias}-{FIRST_GENERATION}"
        self.client.indices.create(index=name, body={"aliases": {self.alias: {"is_write_index": True}}})
        log.info("created index %s behind alias %s", name, self.alias)
        return name

    def rollover(self) -> tuple[str, str]:
        """A new write index behind the alias now; returns (old, new)."""
        answer = self.client.indices.rollover(alias=self.alias, body={})
        log.info("rolled %s over: %s -> %s", self.alias, answer["old_index"], answer["new_index"])
        return answer["old_index"], answer["new_index"]

    def new_generation(self) -> str:
        """An index outside the alias for a reindex to fill (the template gives it mapping and settings)."""
        name = f"{self.alias}-{datetime.now(UTC):%Y%m%d%H%M%S}-{FIRST_GENERATION}"
        self.client.indices.create(index=name, body={})
        return name

    def swap(self, new_index: str) -> tuple[str, ...]:
        """In one atomic alias update: `new_index` becomes the alias's only index and write index, and every index
        the alias stood for is deleted. Readers see the old indices or the new one, never neither or both."""
        current = self.resolve()
        old = tuple(i for i in current.indices if i != new_index)
        actions: list[dict[str, Any]] = [{"remove_index": {"index": i}} for i in old]
        actions.append({"add": {"index": new_index, "alias": self.alias, "is_write_index": True}})
        self.client.indices.update_aliases(body={"actions": actions})
        log.info("alias %s now stands for %s (deleted %s)", self.alias, new_index, ", ".join(old) or "nothing")
        return old

    def own_indices(self) -> list[str]:
        """Every index of this alias's naming, in the alias or not (a reindex that did not finish leaves one)."""
        found = dict(self.client.indices.get(index=self.pattern, expand_wildcards="open,closed", allow_no_indices=True))
        return sorted((n for n in found if self._own.fullmatch(n)), key=_generation_order)

    def drop(self, template: bool = False) -> None:
        """Delete every index behind the alias and of its naming (and the template)."""
        names = sorted(set(self.resolve().indices) | set(self.own_indices()))
        for name in names:
            self.client.indices.delete(index=name, ignore_unavailable=True)
        if template and self.client.indices.exists_index_template(name=self.template_name):
            self.client.indices.delete_index_template(name=self.template_name)

    def locate(self, ids: Iterable[str]) -> dict[str, str]:
        """The index each of these documents is in (searchable ones: refresh after writes); absent ids are left out.
        A document found in two indices (which export never does) is reported and the newest index kept."""
        wanted = sorted(set(ids))
        hits: list[dict[str, Any]] = []
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[start : start + LOOKUP_CHUNK]
            body = {"query": {"ids": {"values": chunk}}, "_source": False, "size": 2 * len(chunk)}
            hits += self.client.search(index=self.alias, body=body)["hits"]["hits"]
        found: dict[str, str] = {}
        for hit in sorted(hits, key=lambda h: _generation_order(h["_index"])):
            if hit["_id"] in found:
                log.warning("document %s is in %s and %s: writing to the newer", hit["_id"], found[hit["_id"]],
                            hit["_index"])  # fmt: skip
            found[hit["_id"]] = hit["_index"]
        return found

    def write_blocked(self, indices: Iterable[str]) -> list[str]:
        """Those of `indices` that refuse writes (`index.blocks.write`: a cold index, or one set read-only)."""
        names = sorted(set(indices))
        if not names:
            return []
        answer = self.client.indices.get_settings(index=",".join(names), name=_WRITE_BLOCK, flat_settings=True)
        return [n for n in names if str(answer.get(n, {}).get("settings", {}).get(_WRITE_BLOCK)).lower() == "true"]

    @contextlib.contextmanager
    def writable(self, indices: Iterable[str]) -> Iterator[list[str]]:
        """Lift the write block of those of `indices` that have one, for an erasure, and put it back after."""
        blocked = self.write_blocked(indices)
        for name in blocked:
            self.client.indices.put_settings(index=name, body={_WRITE_BLOCK: False})
            log.warning("lifted the write block of %s for an erasure", name)
        try:
            yield blocked
        finally:
            for name in blocked:
                self.client.indices.put_settings(index=name, body={_WRITE_BLOCK: True})


def _generation_order(name: str) -> tuple[str, int]:
    """Oldest first: by the reindex timestamp (none sorts first), then by the rollover counter."""
    parts = name.rsplit("-", 2)
    counter = int(parts[-1]) if parts[-1].isdigit() else -1
    stamp = parts[-2] if len(parts) == 3 and parts[-2].isdigit() and len(parts[-2]) == 14 else ""
    return stamp, counter
