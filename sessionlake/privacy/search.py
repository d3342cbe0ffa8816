"""Erasure in the search index: delete a player's session documents by user_key and by session id."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from exporters.config import SearchConfig
from exporters.search import search_client
from sessionlake.domain import SEARCH_INDEX
from sessionlake.settings import Settings

_TERMS_CHUNK = 10_000


def delete_player_documents(settings: Settings, user_key: str, session_ids: Iterable[str]) -> int:
    """Delete (and refresh) every document of the player; returns how many were deleted. A missing index
    holds nothing to delete."""
    client = search_client(settings)
    engine = SearchConfig.from_env(settings).engine
    index = os.environ.get("SESSIONLAKE_EXPORT_INDEX") or SEARCH_INDEX
    if not client.indices.exists(index=index):
        return 0
    sessions = sorted(set(session_ids))
    queries = [{"term": {"user_key": user_key}}]
    queries += [
        {"terms": {"session_id": sessions[i : i + _TERMS_CHUNK]}} for i in range(0, len(sessions), _TERMS_CHUNK)
    ]
    deleted = 0
    for query in queries:
        deleted += int(_delete_by_query(client, engine, index, query).get("deleted", 0))
    return deleted


def _delete_by_query(client: Any, engine: str, index: str, query: dict[str, Any]) -> dict[str, Any]:
    options = {"index": index, "refresh": True, "conflicts": "proceed"}
    if engine == "elasticsearch":
        return client.delete_by_query(query=query, **options)
    return client.delete_by_query(body={"query": query}, **options)
