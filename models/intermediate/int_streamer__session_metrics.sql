with

stream_metrics as (
    select * from {{ ref('stg_streamer__stream_metrics') }}
),

aggregated as (
    select
        session_id,
        count(*) as metric_samples,
        avg(fps) as avg_fps,
        min(fps) as min_fps,
        avg(bitrate_kbps) as avg_bitrate_kbps,
        max(packet_loss_pct) as max_packet_loss_pct,
        percentile(rtt_ms, 0.95) as p95_rtt_ms,
        min(event_time) as first_event_at,
        max(event_time) as last_event_at,
        max(_ingested_at) as last_ingested_at
    from stream_metrics
    group by session_id
)

select * from aggregated
