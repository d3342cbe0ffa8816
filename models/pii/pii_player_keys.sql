{#-
    One data key per player, wrapped with the master key. Insert-only: a player gets a key the first time
    the vault sees them and keeps it (never re-keyed, never rebuilt: full_refresh=false). `sessionlake
    forget` destroys a key by deleting its row and vacuuming, which makes every ciphertext of that player
    unreadable, in every table version and copy. Reads the bronze window of pii.pii_players; a
    forgotten player (pii.forgotten_players) never gets a key again.
-#}
{{
    config(
        schema='pii',
        materialized='incremental',
        incremental_strategy='merge',
        tblproperties={'delta.enableDeletionVectors': 'false'},
        unique_key='user_key',
        merge_update_columns=['user_key'],
        full_refresh=false,
        pii_window_relation='pii_players',
    )
}}
{%- do assert_pii_master_key_set() -%}
{%- set players = adapter.get_relation(
    database=this.database, schema=this.schema, identifier='pii_players'
) if introspective() else none %}

with

session_events as (
    select user_id from {{ source('session_manager', 'session_events') }} as bronze_rows
    where
        user_id is not null
        and {{ pii_ingested_since(players) }}
        and {{ not_forgotten('session_manager', 'session_events', 'bronze_rows') }}
),

billing_logs as (
    select user_id from {{ source('billing', 'billing_logs') }} as bronze_rows
    where
        user_id is not null
        and {{ pii_ingested_since(players) }}
        and {{ not_forgotten('billing', 'billing_logs', 'bronze_rows') }}
),

user_ids as (
    select user_id from session_events
    union all
    select user_id from billing_logs
),

players_seen as (
    select distinct {{ pseudonymize('user_id') }} as user_key
    from user_ids
),

new_players as (
    select players_seen.user_key
    from players_seen
    {% if is_incremental() %}
    left anti join {{ this }} as keyed on players_seen.user_key = keyed.user_key
    {% endif %}
),

final as (
    select
        user_key,
        {{ wrap_key(new_data_key('user_key'), 'user_key') }} as wrapped_key,
        current_timestamp() as created_at
    from new_players
)

select * from final
