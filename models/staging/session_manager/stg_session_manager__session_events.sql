{{
    config(
        unique_key='event_id',
        merge_exclude_columns=['_loaded_at'],
    )
}}

with

source as (
    select * from {{ source('session_manager', 'session_events') }}
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
        event_type,
        event_time,
        session_id,
        {{ protect_pii('user_id', 'session_manager', 'session_events') }},
        {{ protect_pii('email', 'session_manager', 'session_events') }},
        {{ protect_pii('ip_address', 'session_manager', 'session_events') }},
        game_id,
        region,
        client_platform,
        end_reason,
        _ingested_at,
        current_timestamp() as _loaded_at
    from new_events
)

select * from renamed
