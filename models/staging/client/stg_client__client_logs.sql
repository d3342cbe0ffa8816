{{
    config(
        unique_key='event_id',
        merge_exclude_columns=['_loaded_at'],
    )
}}

with

source as (
    select * from {{ source('client', 'client_logs') }}
    where
        event_id is not null
        and {{ ingested_since_last_load() }}
),

numbered as (
    select
        *,
        row_number() over (partition by event_id order by _ingested_at, _batch_id) as arrival
    from source
),

deduplicated as (
    select * from numbered
    where arrival = 1
),

new_events as (
    {{ not_yet_loaded('deduplicated', 'event_id') }}
),

renamed as (
    select
        event_id,
        log_time,
        session_id,
        upper(level) as level,
        message,
        device_model,
        os_version,
        {{ protect_pii('ip_address', 'client', 'client_logs') }},
        crashed,
        _ingested_at,
        current_timestamp() as _loaded_at
    from new_events
)

select * from renamed
