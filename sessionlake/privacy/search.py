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
    holds nothing to delete. Ids are found with a scroll and deleted in bulk (no `_delete_by_query`: it
    lives in the optional reindex module, which minimal distributions lack)."""
    client = search_client(settings)
    engine = SearchConfig.from_env(settings).engine
    index = os.environ.get("SESSIONLAKE_EXPORT_INDEX") or SEARCH_INDEX
    if not client.indices.exists(index=index):
        return 0
    if engine == "elasticsearch":
        from elasticsearch import helpers
    else:
        from opensearchpy import helpers
    client.indices.refresh(index=index)
    sessions = sorted(set(session_ids))
    should: list[dict[str, Any]] = [{"term": {"user_key": user_key}}]
    should += [{"terms": {"session_id": sessions[i : i + _TERMS_CHUNK]}} for i in range(0, len(sessions), _TERMS_CHUNK)]
    query = {"query": {"bool": {"should": should, "minimum_should_match": 1}}, "_source": False}
    ids = {hit["_id"] for hit in helpers.scan(client, index=index, query=query)}
    actions = ({"_op_type": "delete", "_index": index, "_id": doc_id} for doc_id in sorted(ids))
    deleted, _ = helpers.bulk(client, actions, raise_on_error=False, refresh=True)
    return int(deleted)
