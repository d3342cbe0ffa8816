"""Search engines, one implementation each behind one interface: the client, its bulk helpers, and the
few calls whose signatures differ between the official `elasticsearch` and `opensearch-py` clients."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from sessionlake.core.errors import ConfigurationError

if TYPE_CHECKING:
    from sessionlake.exporters.config import SearchConfig

# Answers a client retries by itself before the exporter sees them.
RETRY_STATUSES = (429, 502, 503, 504)


class SearchEngine(ABC):
    name: ClassVar[str]

    @abstractmethod
    def connect(self, config: SearchConfig) -> Any:
        """A client for the engine; credentials come only from the config (the environment)."""

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


class Elasticsearch(SearchEngine):
    name = "elasticsearch"

    def connect(self, config: SearchConfig) -> Any:
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
            retry_on_status=RETRY_STATUSES,
            retry_on_timeout=True,
            **auth,
        )

    @property
    def helpers(self) -> ModuleType:
        from elasticsearch import helpers

        return helpers

    def indices_call(self, client: Any, api: str, index: str, body: dict[str, Any]) -> Any:
        return getattr(client.indices, api)(index=index, **body)  # the 8.x client takes the body's keys


class OpenSearch(SearchEngine):
    name = "opensearch"

    def connect(self, config: SearchConfig) -> Any:
        from opensearchpy import OpenSearch as Client

        return Client(
            hosts=[config.url],
            http_auth=(config.username, config.password) if config.username else None,
            ca_certs=config.ca_certs,
            verify_certs=config.verify_certs,
            timeout=config.request_timeout,
            max_retries=config.max_retries,
            retry_on_status=RETRY_STATUSES,
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


ENGINES: dict[str, SearchEngine] = {engine.name: engine for engine in (Elasticsearch(), OpenSearch())}


def engine_for(name: str) -> SearchEngine:
    if name not in ENGINES:
        raise ConfigurationError(f"SESSIONLAKE_SEARCH_ENGINE={name!r} is not one of {sorted(ENGINES)}")
    return ENGINES[name]
