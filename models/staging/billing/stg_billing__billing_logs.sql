{{
    config(
        unique_key='event_id',
    )
}}

with

new_events as (
    {{ new_bronze_events('billing', 'billing_logs') }}
),

renamed as (
    select
        event_id,
        session_id,
        {{ protect_pii('user_id', 'billing', 'billing_logs') }},
        billed_minutes,
        tier,
        _ingested_at,
        {{ version_columns() }},
        current_timestamp() as _loaded_at
    from new_events
)

select * from renamed
