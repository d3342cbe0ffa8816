"""`sessionlake index show | rollover | reindex | policy [--print]`: the search index's layout and lifecycle.

The exporter and `forget` write through the alias SESSIONLAKE_EXPORT_INDEX; behind it lie numbered indices
made from one index template (docs/exporter.md, "Index lifecycle").
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from sessionlake.core.errors import ConfigurationError
from sessionlake.core.settings import Settings

if TYPE_CHECKING:
    from sessionlake.exporters.search import SearchIndex


def _index(settings: Settings) -> SearchIndex:
    """The exporter's modules load lazily, so `--help` stays fast."""
    from sessionlake.exporters.config import ExportConfig
    from sessionlake.exporters.search import SearchIndex

    return SearchIndex(ExportConfig.from_settings(settings))


def _show(args: argparse.Namespace, settings: Settings) -> int:
    index = _index(settings)
    current = index.layout.resolve()
    print(f"{index.name}: {current.layout.value}, write index {current.write_index or '-'}")
    if current.indices:
        counts = {r["index"]: r for r in index.client.cat.indices(index=",".join(current.indices), format="json")}
        blocked = set(index.layout.write_blocked(current.indices))
        for name in current.indices:
            row = counts.get(name, {})
            role = "write" if name == current.write_index else "read-only" if name in blocked else "upserts"
            print(f"  {name:<40} {row.get('docs.count', '?'):>10} docs {row.get('store.size', '?'):>9}  {role}")
    return 0


def _rollover(args: argparse.Namespace, settings: Settings) -> int:
    from sessionlake.exporters.layout import Layout

    index = _index(settings)
    current = index.layout.resolve().layout
    if current is not Layout.ALIAS:
        raise ConfigurationError(
            f"{index.name} is {'not there yet' if current is Layout.MISSING else 'a plain index, not an alias'}: "
            + ("run `sessionlake export` first" if current is Layout.MISSING else "run `sessionlake index reindex`")
        )
    old, new = index.layout.rollover()
    print(f"{index.name}: rolled over, writes go to {new} ({old} keeps taking its sessions' upserts)")
    return 0


def _reindex(args: argparse.Namespace, settings: Settings) -> int:
    from sessionlake.core.spark import get_session
    from sessionlake.exporters.config import ExportConfig
    from sessionlake.exporters.runner import rebuild

    spark = get_session(settings, "sessionlake-index-reindex")
    try:
        done = rebuild(spark, ExportConfig.from_settings(settings))
    finally:
        spark.stop()
    report = done.report
    print(
        f"{settings.export.index} -> {done.index}: {report.upserted} documents, {report.deleted} deleted; "
        f"replaced {', '.join(done.replaced) or 'nothing'}"
    )
    return 0


def _policy(args: argparse.Namespace, settings: Settings) -> int:
    from pyspark.sql import types as T

    from sessionlake.exporters.lifecycle import LifecyclePlan
    from sessionlake.exporters.search import mapping_properties

    index = _index(settings)
    layout = index.layout
    document = index.engine.policy_document(LifecyclePlan.from_settings(settings.search), layout.pattern,
                                            layout.priority)  # fmt: skip
    problems = index.engine.validate_policy(document)
    if problems:
        raise ConfigurationError(f"the {index.engine.lifecycle_name} policy is not valid: " + "; ".join(problems))
    if args.print:
        print(json.dumps(document, indent=2))
        return 0
    name = settings.search.policy
    if not name:
        raise ConfigurationError("set SESSIONLAKE_SEARCH_POLICY to the policy's name (or use --print)")
    index.check_lifecycle()
    properties = mapping_properties(T.StructType([]))
    if index.client.indices.exists_index_template(name=layout.template_name):
        [current] = index.client.indices.get_index_template(name=layout.template_name)["index_templates"]
        properties |= current["index_template"]["template"].get("mappings", {}).get("properties", {})
    changed = index.engine.put_policy(index.client, name, document, layout.alias, list(layout.resolve().indices))
    layout.put_template(properties)
    print(f"{index.engine.lifecycle_name} policy {name}: {'written' if changed else 'unchanged'}; template "
          f"{layout.template_name} puts new {layout.pattern} indices under it")  # fmt: skip
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("index", help="the search index's layout and lifecycle", description=__doc__)
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("show", help="the indices behind the alias").set_defaults(func=_show)
    actions.add_parser("rollover", help="a new write index behind the alias now").set_defaults(func=_rollover)
    actions.add_parser(
        "reindex", help="build a new index from the table and swap the alias to it, while export goes on"
    ).set_defaults(func=_reindex)
    policy = actions.add_parser("policy", help="create or update the hot-warm-cold lifecycle policy (idempotent)")
    policy.add_argument("--print", action="store_true", help="print the policy document for this engine and exit")
    policy.set_defaults(func=_policy)
