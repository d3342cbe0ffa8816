{{
    config(
        unique_key='event_id',
    )
}}

with

new_events as (
    {{ new_bronze_events('client', 'client_logs') }}
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
        {{ version_columns() }},
        current_timestamp() as _loaded_at
    from new_events
)

select * from renamed
