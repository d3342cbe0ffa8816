{#-
    Where the PII value guard's scan of raw values starts, as a timestamp expression over bronze
    `_ingested_at`; none for a scan of the whole history. An incremental build in the loop
    (var pii_value_scan = 'window') reads only bronze rows ingested after the high-water mark of
    `_ingested_at` in its window relation (the model's own table, or the one its config
    `pii_window_relation` names, in the model's schema) minus the ingest lookback: the guard checks the
    same rows. First builds, full refreshes, `pii_value_scan: full` and a window relation without
    `_ingested_at` scan everything.
-#}
{% macro pii_scan_window_start() -%}
    {%- if var('pii_value_scan') != 'window' or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set name = config.get('pii_window_relation') -%}
    {%- set relation = this if name is none else adapter.get_relation(
        database=this.database, schema=this.schema, identifier=name) -%}
    {%- if relation is none
        or '_ingested_at' not in adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(load_window_start(relation)) }}
{%- endmacro %}
