{#-
    Predicate over rows of a bronze source (aliased `alias`): true unless the row belongs to a forgotten
    player (its declared player id hashes to a key in pii.forgotten_players) or to a forgotten session
    (pii.forgotten_sessions). Keeps late data of an erased player out of silver and the vault.
-#}
{% macro not_forgotten(source_name, table_name, alias) -%}
    not exists (
        select 1 from {{ source('privacy', 'forgotten_sessions') }} as forgotten
        where forgotten.session_id = {{ alias }}.session_id
    )
    {%- for column in player_id_columns(source_name, table_name) %}
        and not exists (
            select 1 from {{ source('privacy', 'forgotten_players') }} as forgotten
            where forgotten.user_key = {{ pseudonymize(alias ~ '.' ~ column) }}
        )
    {%- endfor -%}
{%- endmacro %}
