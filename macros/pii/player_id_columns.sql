{#-
    The source columns that identify a player: declared `meta: {pii: {method: hash, as: user_key}}`.
    Of one source table (`source_name`, `table_name`), or of every source (names only, lower case).
-#}
{% macro player_id_columns(source_name=none, table_name=none) -%}
    {%- set names = [] -%}
    {%- if not execute -%}
        {{ return(names) }}
    {%- endif -%}
    {%- for node in graph.sources.values()
        if source_name is none or (node.source_name == source_name and node.name == table_name) -%}
        {%- for column in node.columns.values() -%}
            {%- set pii = column.meta.get('pii') or {} -%}
            {%- if pii.get('method') == 'hash' and pii.get('as') == 'user_key' and column.name | lower not in names -%}
                {%- do names.append(column.name | lower) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}
