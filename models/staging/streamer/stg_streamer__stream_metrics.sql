{{
    config(
        unique_key='event_id',
    )
}}

with

new_events as (
    {{ new_bronze_events('streamer', 'stream_metrics') }}
),

renamed as (
    select
        event_id,
        event_time,
        session_id,
        fps,
        bitrate_kbps,
        rtt_ms,
        packet_loss_pct,
        resolution,
        _ingested_at,
        {{ version_columns() }},
        current_timestamp() as _loaded_at
    from new_events
)

select * from renamed
