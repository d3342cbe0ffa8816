"""Search engines, one implementation each behind one interface: the client, its bulk helpers, and the
few calls whose signatures differ between the official `elasticsearch` and `opensearch-py` clients."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from sessionlake.core.errors import ConfigurationError
from sessionlake.exporters import lifecycle
from sessionlake.exporters.lifecycle import LifecyclePlan

if TYPE_CHECKING:
    from sessionlake.exporters.config import SearchConfig

# Answers a client retries by itself before the exporter sees them.
RETRY_STATUSES = (429, 502, 503, 504)


def retry_statuses(retry_429: bool) -> tuple[int, ...]:
    return RETRY_STATUSES if retry_429 else tuple(s for s in RETRY_STATUSES if s != 429)


def policy_digest(policy: dict[str, Any]) -> str | None:
    """The digest sessionlake stored in a policy it wrote (ILM: `_meta`, ISM: the description's end); the engines
    return a policy with defaults filled in, so the digest, not the body, says whether it changed."""
    if "_meta" in policy:
        return policy["_meta"].get("digest")
    match = re.search(r"digest ([0-9a-f]{64})$", policy.get("description", ""))
    return match.group(1) if match else None


def installed_features(client: Any) -> set[str]:
    """Names of the modules and plugins every node of the cluster has."""
    nodes = client.nodes.info(metric="plugins")["nodes"].values()
    per_node = [{p["name"] for p in n.get("plugins", []) + n.get("modules", [])} for n in nodes]
    return set.intersection(*per_node) if per_node else set()


class SearchEngine(ABC):
    name: ClassVar[str]
    lifecycle_name: ClassVar[str]  # what the engine calls its index lifecycle feature
    lifecycle_feature: ClassVar[str]  # the module or plugin that provides it

    @abstractmethod
    def connect(self, config: SearchConfig, retry_429: bool = True) -> Any:
        """A client for the engine; credentials come only from the config (the environment). Without `retry_429`
        the client leaves 429 answers to its caller, who backs off with smaller bulks rather than resend the same."""

    @property
    @abstractmethod
    def helpers(self) -> ModuleType:
        """The client's helpers module (streaming_bulk, bulk, scan)."""

    def check(self, config: SearchConfig) -> None:
        """Refuse settings the engine does not support (ConfigurationError naming the variable)."""
        return None

    def indices_call(self, client: Any, api: str, index: str, body: dict[str, Any]) -> Any:
        """`client.indices.<api>(index, body)`, in the client's own calling convention."""
        return getattr(client.indices, api)(index=index, body=body)

    def has_lifecycle(self, client: Any) -> bool:
        return self.lifecycle_feature in installed_features(client)

    @abstractmethod
    def lifecycle_settings(self, policy: str, alias: str) -> dict[str, Any]:
        """Index settings that put a new index under the policy, rolling `alias` over."""

    @abstractmethod
    def policy_document(self, plan: LifecyclePlan, pattern: str, priority: int) -> dict[str, Any]:
        """The policy's body for this engine's API."""

    @abstractmethod
    def validate_policy(self, document: dict[str, Any]) -> list[str]:
        """What is wrong with a policy document, checked offline."""

    def template_options(self) -> dict[str, Any]:
        """Engine-specific fields of the index template."""
        return {}

    @abstractmethod
    def put_policy(self, client: Any, name: str, document: dict[str, Any], alias: str, indices: list[str]) -> bool:
        """Create or update the policy (False when the stored one has the same digest) and put the existing
        `indices` of `alias` under it, rollover alias included."""


class Elasticsearch(SearchEngine):
    name = "elasticsearch"
    lifecycle_name = "ILM"
    lifecycle_feature = "x-pack-ilm"

    def connect(self, config: SearchConfig, retry_429: bool = True) -> Any:
        from elasticsearch import Elasticsearch as Client

        auth: dict[str, Any] = {}
        if config.api_key:
            auth["api_key"] = config.api_key
        elif config.username:
            auth["basic_auth"] = (config.username, config.password)
        return Client(
            config.url,
            ca_certs=config.ca_certs,
            verify_certs=config.verify_certs,
            request_timeout=config.request_timeout,
            max_retries=config.max_retries,
            retry_on_status=retry_statuses(retry_429),
            retry_on_timeout=True,
            **auth,
        )

    @property
    def helpers(self) -> ModuleType:
        from elasticsearch import helpers

        return helpers

    def indices_call(self, client: Any, api: str, index: str, body: dict[str, Any]) -> Any:
        return getattr(client.indices, api)(index=index, **body)  # the 8.x client takes the body's keys

    def lifecycle_settings(self, policy: str, alias: str) -> dict[str, Any]:
        return {"index.lifecycle.name": policy, "index.lifecycle.rollover_alias": alias}

    def policy_document(self, plan: LifecyclePlan, pattern: str, priority: int) -> dict[str, Any]:
        return lifecycle.ilm_policy(plan)  # attached by the index template's settings, not by a pattern

    def validate_policy(self, document: dict[str, Any]) -> list[str]:
        return lifecycle.validate_ilm(document)

    def template_options(self) -> dict[str, Any]:
        # Never auto-create an index of the pattern: a write racing a reindex's deletion of an old index must
        # fail (and be redone from the cursor), not recreate the index outside the alias.
        return {"allow_auto_create": False}

    def put_policy(self, client: Any, name: str, document: dict[str, Any], alias: str, indices: list[str]) -> bool:
        from elasticsearch import NotFoundError

        try:
            current = client.ilm.get_lifecycle(name=name)[name]["policy"]
        except NotFoundError:
            current = None
        changed = current is None or policy_digest(current) != policy_digest(document["policy"])
        if changed:
            client.ilm.put_lifecycle(name=name, policy=document["policy"])
        for index in indices:
            client.indices.put_settings(index=index, settings=self.lifecycle_settings(name, alias))
        return changed


class OpenSearch(SearchEngine):
    name = "opensearch"
    lifecycle_name = "ISM"
    lifecycle_feature = "opensearch-index-management"

    def connect(self, config: SearchConfig, retry_429: bool = True) -> Any:
        from opensearchpy import OpenSearch as Client

        return Client(
            hosts=[config.url],
            http_auth=(config.username, config.password) if config.username else None,
            ca_certs=config.ca_certs,
            verify_certs=config.verify_certs,
            timeout=config.request_timeout,
            max_retries=config.max_retries,
            retry_on_status=retry_statuses(retry_429),
            retry_on_timeout=True,
        )

    @property
    def helpers(self) -> ModuleType:
        from opensearchpy import helpers

        return helpers

    def check(self, config: SearchConfig) -> None:
        if config.api_key:
            raise ConfigurationError(
                "SESSIONLAKE_SEARCH_API_KEY is an Elasticsearch feature; "
                "for OpenSearch set SESSIONLAKE_SEARCH_USERNAME and SESSIONLAKE_SEARCH_PASSWORD"
            )

    def lifecycle_settings(self, policy: str, alias: str) -> dict[str, Any]:
        return {"plugins.index_state_management.rollover_alias": alias}  # the policy's ism_template attaches it

    def policy_document(self, plan: LifecyclePlan, pattern: str, priority: int) -> dict[str, Any]:
        return lifecycle.ism_policy(plan, pattern, priority)

    def validate_policy(self, document: dict[str, Any]) -> list[str]:
        return lifecycle.validate_ism(document)

    def put_policy(self, client: Any, name: str, document: dict[str, Any], alias: str, indices: list[str]) -> bool:
        from opensearchpy.exceptions import NotFoundError

        path = f"/_plugins/_ism/policies/{name}"
        try:
            current = client.transport.perform_request("GET", path)
        except NotFoundError:
            current = None
        if current is not None and policy_digest(current["policy"]) == policy_digest(document["policy"]):
            changed = False
        else:
            params = (
                {}
                if current is None
                else {"if_seq_no": current["_seq_no"], "if_primary_term": current["_primary_term"]}
            )
            client.transport.perform_request("PUT", path, params=params, body=document)
            changed = True
        for index in indices:
            client.indices.put_settings(index=index, body=self.lifecycle_settings(name, alias))
            added = client.transport.perform_request("POST", f"/_plugins/_ism/add/{index}", body={"policy_id": name})
            if added.get("failures") and changed:  # already managed: move it to the new version of the policy
                client.transport.perform_request(
                    "POST", f"/_plugins/_ism/change_policy/{index}", body={"policy_id": name}
                )
        return changed


ENGINES: dict[str, SearchEngine] = {engine.name: engine for engine in (Elasticsearch(), OpenSearch())}


def engine_for(name: str) -> SearchEngine:
    if name not in ENGINES:
        raise ConfigurationError(f"SESSIONLAKE_SEARCH_ENGINE={name!r} is not one of {sorted(ENGINES)}")
    return ENGINES[name]
