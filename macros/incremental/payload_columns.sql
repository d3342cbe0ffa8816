{#-
    The payload columns of a bronze source table: the columns its YAML declares, minus ingest's own
    (`_ingested_at`, `_raw`, lineage: every name starting with `_`). A version of an event is its payload.
-#}
{% macro payload_columns(source_name, table_name) -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- for node in graph.sources.values()
        if node.source_name == source_name and node.name == table_name -%}
        {%- set names = [] -%}
        {%- for name in node.columns if not name.startswith('_') -%}
            {%- do names.append(name) -%}
        {%- endfor -%}
        {%- if not names -%}
            {{ exceptions.raise_compiler_error(
                "source " ~ source_name ~ "." ~ table_name ~ " declares no payload columns in its YAML") }}
        {%- endif -%}
        {{ return(names) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error("no source " ~ source_name ~ "." ~ table_name) }}
{%- endmacro %}
