{{
    config(
        unique_key='event_id',
    )
}}

with

new_events as (
    {{ new_bronze_events('session_manager', 'session_events') }}
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
        {{ version_columns() }},
        current_timestamp() as _loaded_at
    from new_events
)

select * from renamed
