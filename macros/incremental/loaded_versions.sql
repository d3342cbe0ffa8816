{#-
    The version bookkeeping of the events this silver model holds, for new_bronze_events: a query of
    `<unique_key>, _version_order, _versions_seen` over {{ this }}, and whether `_version_order` is there
    to compare with. A table built before versions were tracked has neither column (every new version
    replaces its rows, as merges did then); a table whose `_version_order` has other fields than the
    source now declares must be rebuilt, and this says so rather than compare unlike orders.
-#}
{% macro loaded_versions(order, unique_key) -%}
    {%- set existing = {} -%}
    {%- for column in adapter.get_columns_in_relation(this) -%}
        {%- do existing.update({column.name | lower: column.data_type | lower | replace(' ', '')}) -%}
    {%- endfor -%}
    {%- if '_version_order' not in existing or '_versions_seen' not in existing -%}
        {%- set query -%}
            select {{ unique_key }}, cast(null as array<string>) as _versions_seen from {{ this }}
        {%- endset -%}
        {{ return({'query': query, 'ordered': false}) }}
    {%- endif -%}
    {%- set fields = modules.re.findall('[<,]`?([a-z0-9_]+)`?:', existing['_version_order']) -%}
    {%- if fields | list != order | map('lower') | list -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": its versions are ordered by " ~ fields | join(', ') ~ " but its source now declares "
            ~ order | join(', ') ~ " (meta.version_order): rebuild it with `sessionlake build --full-refresh "
            ~ "--select " ~ model.name ~ "+`") }}
    {%- endif -%}
    {%- set query -%}
        select {{ unique_key }}, _version_order, _versions_seen from {{ this }}
    {%- endset -%}
    {{ return({'query': query, 'ordered': true}) }}
{%- endmacro %}
