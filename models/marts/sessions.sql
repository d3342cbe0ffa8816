{#-
    One row per play session, every service merged. The per-service aggregates are registered in
    dbt_project.yml (vars.session_metrics): a new service adds an intermediate model there, not here.
    Incremental runs recompute, from all their silver rows, only the sessions with silver rows loaded
    since gold last changed, and merge only the rows whose values changed.
    On Databricks the table is liquid-clustered by session_id (dbt-databricks); elsewhere OPTIMIZE
    Z-orders it (optimize_model).
-#}
{{
    config(
        unique_key='session_id',
        tblproperties={'delta.enableChangeDataFeed': 'true'},
        liquid_clustered_by=(['session_id'] if target.type == 'databricks' else none),
    )
}}

{%- set columns = session_metric_columns() %}

with
{% if is_incremental() %}
touched_sessions as (
    {{ sessions_touched_since(
        high_water_mark('updated_at') ~ ' - interval ' ~ var('gold_lookback_minutes') ~ ' minutes'
    ) }}
),
{% endif %}
service_metrics as (
    {{ union_session_metrics(columns, 'touched_sessions' if is_incremental() else none) }}
),

merged as (
    select
        session_id,
        {{ merge_session_metrics(columns) }}
    from service_metrics
    group by session_id
),

changed as (
    {{ changed_sessions('merged', columns) }}
),

final as (
    select
        *,
        current_timestamp() as updated_at
    from changed
)

select * from final
