with

client_logs as (
    select * from {{ ref('stg_client__client_logs') }}
),

aggregated as (
    select
        session_id,
        count(*) as log_lines,
        count_if(level in ('ERROR', 'FATAL')) as error_lines,
        coalesce(bool_or(crashed), false) as crashed,
        max_by(device_model, struct(log_time, event_id)) as device_model,
        min(log_time) as first_event_at,
        max(log_time) as last_event_at,
        max(_ingested_at) as last_ingested_at
    from client_logs
    group by session_id
)

select * from aggregated
