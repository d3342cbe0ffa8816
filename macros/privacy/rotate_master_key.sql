{#-
    Master-key rotation, table side (`sessionlake rotate-master-key`, docs/pii.md): every player's data key
    is unwrapped with the current master key and wrapped again with the next one
    (spark.sessionlake.pii.masterkey.next), in one Delta commit, then the table's older versions are purged:
    a copy of the old wrapped keys must not outlive the rotation, or the old master key would still open
    them. The data keys themselves do not change, so no encrypted value is rewritten. Idempotent: a key
    that already unwraps with the next master key is left as it is (a run after a crash finishes the job).
-#}
{% macro rotate_master_key(writers_paused=false) -%}
    {%- set keys = ref('pii_player_keys') -%}
    {%- set next_key = "sessionlake_master_key('next')" -%}
    {%- set rewrapped = "aes_encrypt(" ~ unwrap_key('wrapped_key', 'user_key') ~ ", " ~ next_key
        ~ ", 'GCM', 'DEFAULT', unhex(''), " ~ key_aad('user_key') ~ ")" -%}
    {%- set done = "try_aes_decrypt(wrapped_key, " ~ next_key ~ ", 'GCM', 'DEFAULT', " ~ key_aad('user_key')
        ~ ") is not null" -%}
    {%- set result = run_query('update ' ~ keys ~ ' set wrapped_key = ' ~ rewrapped ~ ' where not ' ~ done) -%}
    {%- set rewrapped_rows = result.columns[0].values()[0] | int if result.rows else 0 -%}
    {%- set check = 'spark.databricks.delta.retentionDurationCheck.enabled' -%}
    {%- do run_query('set ' ~ check ~ ' = false') -%}
    {%- set purged = purge_history(keys, writers_paused) -%}
    {%- do run_query('set ' ~ check ~ ' = true') -%}
    {%- set report = {'keys_rewrapped': rewrapped_rows, 'history_purged': purged} -%}
    {{ log('rotate_master_key: ' ~ tojson(report), info=true) }}
{%- endmacro %}
