{#- The tables of the `pii` schema that forget writes (not dbt models): name -> column definitions. -#}
{% macro privacy_tables() -%}
    {{ return({
        'forgotten_players': 'user_key string not null, forgotten_at timestamp not null',
        'forgotten_sessions': 'session_id string not null, forgotten_at timestamp not null',
        'erasure_audit': 'request_id string, requested_at timestamp, completed_at timestamp,'
            ~ ' rows_deleted map<string, bigint>, documents_deleted bigint, keys_destroyed bigint,'
            ~ ' tables_purged array<string>, history_purged boolean',
    }) }}
{%- endmacro %}
