{#-
    The PII vault: per player (user_key), the raw user id, e-mail and IP address, each encrypted
    (AES-GCM) with the player's own data key from pii_player_keys. The only table that holds PII, and
    only as ciphertext. Values are the latest received (by ingestion, then event time); a window without
    an e-mail or IP (billing rows) keeps the stored one. Only players with bronze rows ingested after
    their stored row are merged, so a build without new data merges nothing (the lookback re-reads rows
    the vault already holds; ciphertexts cannot be compared, their random IVs differ every time). Rows
    of forgotten players and sessions (the deny-lists) are never read.
-#}
{{
    config(
        schema='pii',
        materialized='incremental',
        incremental_strategy='merge',
        tblproperties={'delta.enableDeletionVectors': 'false'},
        unique_key='user_key',
        full_refresh=false,
    )
}}
{%- do assert_pii_master_key_set() %}

with

session_events as (
    select
        user_id,
        email,
        ip_address,
        event_time,
        _ingested_at
    from {{ source('session_manager', 'session_events') }} as bronze_rows
    where
        user_id is not null
        and {{ pii_ingested_since(this if is_incremental() else none) }}
        and {{ not_forgotten('session_manager', 'session_events', 'bronze_rows') }}
),

billing_logs as (
    select
        user_id,
        cast(null as string) as email,
        cast(null as string) as ip_address,
        cast(null as timestamp) as event_time,
        _ingested_at
    from {{ source('billing', 'billing_logs') }} as bronze_rows
    where
        user_id is not null
        and {{ pii_ingested_since(this if is_incremental() else none) }}
        and {{ not_forgotten('billing', 'billing_logs', 'bronze_rows') }}
),

received_rows as (
    select * from session_events
    union all
    select * from billing_logs
),

received as (
    select
        {{ pseudonymize('user_id') }} as user_key,
        *
    from received_rows
),

latest as (
    select
        user_key,
        max_by(user_id, struct(_ingested_at, event_time)) as user_id,
        max_by(email, struct(_ingested_at, event_time)) filter (where email is not null) as email,
        max_by(ip_address, struct(_ingested_at, event_time)) filter (where ip_address is not null) as ip_address,
        max(_ingested_at) as _ingested_at
    from received
    group by user_key
),

newer as (
    select
        latest.*,
        {%- if is_incremental() %}
        stored_players.email_encrypted as stored_email_encrypted,
        stored_players.ip_address_encrypted as stored_ip_address_encrypted
        {%- else %}
        cast(null as binary) as stored_email_encrypted,
        cast(null as binary) as stored_ip_address_encrypted
        {%- endif %}
    from latest
    {% if is_incremental() %}
    left join {{ this }} as stored_players on latest.user_key = stored_players.user_key
    where stored_players.user_key is null or latest._ingested_at > stored_players._ingested_at
    {% endif %}
),

keyed as (
    select
        newer.*,
        {{ unwrap_key('player_keys.wrapped_key', 'player_keys.user_key') }} as data_key
    from newer
    inner join {{ ref('pii_player_keys') }} as player_keys on newer.user_key = player_keys.user_key
),

final as (
    select
        user_key,
        {{ encrypt('user_id', 'data_key') }} as user_id_encrypted,
        coalesce({{ encrypt('email', 'data_key') }}, stored_email_encrypted) as email_encrypted,
        coalesce({{ encrypt('ip_address', 'data_key') }}, stored_ip_address_encrypted) as ip_address_encrypted,
        _ingested_at,
        current_timestamp() as updated_at
    from keyed
)

select * from final
