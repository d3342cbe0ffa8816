{#-
    The version bookkeeping columns new_bronze_events adds, for a silver model's select list:
    `_version_id` (keyed hash of the payload), `_version_order` (its place in the source's version order)
    and `_versions_seen` (the ids of every version of the event loaded so far).
-#}
{% macro version_columns() -%}
    _version_id,
    _version_order,
    _versions_seen
{%- endmacro %}
