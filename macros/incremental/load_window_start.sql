{#-
    Where an incremental window over bronze starts, as a timestamp expression: the high-water mark of
    `_ingested_at` in `relation` minus the ingest lookback (a bronze row's _ingested_at is taken before
    its commit becomes visible: docs/dbt.md, "The incremental window").
-#}
{% macro load_window_start(relation=this) -%}
    {{ return(high_water_mark('_ingested_at', relation) ~ ' - interval ' ~ var('ingest_lookback_minutes') ~ ' minutes') }}
{%- endmacro %}
