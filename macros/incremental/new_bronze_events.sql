{#-
    The silver model's new input from a bronze source: rows in the incremental window
    (ingested_since_last_load) of players and sessions not forgotten (not_forgotten), one per event id
    (its first arrival: Delta refuses a merge where several source rows match one target row), minus
    rows already loaded (not_yet_loaded). Shared by every
    stg_<service>__<entity> model; the model itself only renames, types and protects PII.
-#}
{% macro new_bronze_events(source_name, table_name, unique_key='event_id') -%}
    {%- set window_start = load_window_start() if is_incremental() else none -%}
    {%- set first_arrivals -%}
        (
            select * from (
                select
                    *,
                    row_number() over (partition by {{ unique_key }} order by _ingested_at, _batch_id) as arrival
                from {{ source(source_name, table_name) }} as bronze_rows
                where
                    {{ unique_key }} is not null
                    and {{ ingested_since_last_load(window_start=window_start) }}
                    and {{ not_forgotten(source_name, table_name, 'bronze_rows') }}
            ) as numbered
            where arrival = 1
        )
    {%- endset -%}
    {{ not_yet_loaded(first_arrivals, unique_key, window_start=window_start) }}
{%- endmacro %}
