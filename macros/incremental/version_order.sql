{#-
    How versions of one event of a bronze source are ordered, newest last (docs/dbt.md, "Versions of an
    event"): the fields the source table declares in `meta.version_order` (payload or lineage columns,
    such as a sequence, an update time or `_kafka_timestamp`), then ingest order (`_ingested_at`,
    `_batch_id`), then the version id, so that no two versions tie. Returns the field names.
-#}
{% macro version_order(source_name, table_name) -%}
    {%- if not execute -%}
        {{ return(['_ingested_at', '_batch_id', '_version_id']) }}
    {%- endif -%}
    {%- for node in graph.sources.values()
        if node.source_name == source_name and node.name == table_name -%}
        {%- set declared = node.meta.get('version_order', []) -%}
        {%- if declared is string -%}
            {%- set declared = [declared] -%}
        {%- endif -%}
        {{ return(declared + ['_ingested_at', '_batch_id', '_version_id']) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error("no source " ~ source_name ~ "." ~ table_name) }}
{%- endmacro %}
