with

session_events as (
    select * from {{ ref('stg_session_manager__session_events') }}
),

aggregated as (
    select
        session_id,
        max_by(user_key, struct(event_time, event_id)) filter (where user_key is not null) as user_key,
        max_by(game_id, struct(event_time, event_id)) filter (where game_id is not null) as game_id,
        max_by(region, struct(event_time, event_id)) filter (where region is not null) as region,
        max_by(client_platform, struct(event_time, event_id)) filter (where client_platform is not null)
            as client_platform,
        min(event_time) filter (where event_type = 'session_started') as started_at,
        min(event_time) filter (where event_type = 'session_ended') as ended_at,
        min_by(end_reason, struct(event_time, event_id)) filter (where event_type = 'session_ended')
            as end_reason,
        min(event_time) as first_event_at,
        max(event_time) as last_event_at,
        max(_ingested_at) as last_ingested_at
    from session_events
    group by session_id
),

final as (
    select
        session_id,
        user_key,
        game_id,
        region,
        client_platform,
        started_at,
        ended_at,
        end_reason,
        first_event_at,
        last_event_at,
        last_ingested_at,
        if(ended_at is null, 'active', 'ended') as status,
        (unix_micros(ended_at) - unix_micros(started_at)) / 1e6d as duration_seconds
    from aggregated
)

select * from final
