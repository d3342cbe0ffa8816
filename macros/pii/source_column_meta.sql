{#- The `meta` of one column of a source table, as declared in YAML ({} when none). -#}
{% macro source_column_meta(source_name, table_name, column) -%}
    {%- for node in graph.sources.values()
        if node.source_name == source_name and node.name == table_name -%}
        {%- if column in node.columns -%}
            {{ return(node.columns[column].meta) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return({}) }}
{%- endmacro %}
