with

billing_logs as (
    select * from {{ ref('stg_billing__billing_logs') }}
),

aggregated as (
    select
        session_id,
        max_by(user_key, event_id) filter (where user_key is not null) as user_key,
        sum(billed_minutes) as billed_minutes,
        max_by(tier, event_id) as tier,
        max(_ingested_at) as last_ingested_at
    from billing_logs
    group by session_id
)

select * from aggregated
