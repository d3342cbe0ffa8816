{#-
    The window of bronze rows the vault reads: ingested after the latest _ingested_at already in
    `relation` (pii.pii_players) minus the ingest lookback; `true` when the relation does not exist yet.
    Re-read rows are harmless: keys are insert-only and player rows merge on user_key.
-#}
{% macro pii_ingested_since(relation) -%}
    {%- if relation is none -%}
        true
    {%- else -%}
        {%- set window_start = load_window_start(relation) -%}
        _ingest_date >= to_date({{ window_start }}) and _ingested_at > {{ window_start }}
    {%- endif -%}
{%- endmacro %}
