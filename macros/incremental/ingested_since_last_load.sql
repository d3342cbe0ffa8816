{#-
    The incremental window of a silver model over its bronze source: rows ingested after the latest
    _ingested_at already loaded, minus a safety lookback (a bronze row's _ingested_at is taken before
    its commit becomes visible). Re-read rows are merged idempotently on the event id. Prunes on the
    _ingest_date partition. `true` on a first or full-refresh build. `window_start` spares the
    high-water-mark query when the caller has it already.
-#}
{% macro ingested_since_last_load(window_start=none) -%}
    {%- if is_incremental() -%}
        {%- if window_start is none -%}
            {%- set window_start = load_window_start() -%}
        {%- endif -%}
        _ingest_date >= to_date({{ window_start }}) and _ingested_at > {{ window_start }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
