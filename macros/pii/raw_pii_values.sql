{#-
    A query of every raw value of the declared PII columns (`meta: {pii: ...}`) of the given sources (by
    unique id): rows (pii_column, value), the value lower-cased and trimmed. What assert_no_raw_pii compares a
    model's output with. `since` (a timestamp expression) keeps the bronze rows ingested after it.
-#}
{% macro raw_pii_values(source_ids, since=none) -%}
    {%- set window = '' if since is none else
        ' and _ingest_date >= to_date(' ~ since ~ ') and _ingested_at > ' ~ since -%}
    {%- set selects = [] -%}
    {%- for source_id in source_ids -%}
        {%- set node = graph.sources[source_id] -%}
        {%- for column in node.columns.values() if column.meta.get('pii') is not none -%}
            {%- do selects.append(
                "select '" ~ node.source_name ~ "." ~ node.name ~ "." ~ column.name ~ "' as pii_column, lower(trim("
                ~ column.name ~ ")) as value from " ~ source(node.source_name, node.name)
                ~ ' where ' ~ column.name ~ ' is not null' ~ window) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(selects | join(' union ')) }}
{%- endmacro %}
