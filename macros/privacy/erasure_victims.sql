{#-
    How the rows of one erasure table (an erasure_tables entry) that belong to a forgotten player or session
    are matched: {'victims': <query>, 'condition': <over t = table, v = victims>}, or none when the table
    cannot hold such rows. The victims come from the deny-lists (pii.forgotten_players, .forgotten_sessions)
    and, for a raw player id, from the table itself: so the MERGE condition Delta writes into the transaction
    log is only column names (`t.user_id = v.user_id`), never a value, nor the hash secret.
-#}
{% macro erasure_victims(table) -%}
    {%- set columns = table.columns -%}
    {%- set players = source('privacy', 'forgotten_players') -%}
    {%- set sessions = source('privacy', 'forgotten_sessions') -%}
    {%- set selects = [] -%}
    {%- set conditions = [] -%}
    {%- if 'session_id' in columns -%}
        {%- do selects.append('select session_id, cast(null as string) as user_key, cast(null as string) as player_id from ' ~ sessions) -%}
        {%- do conditions.append('t.session_id = v.session_id') -%}
    {%- endif -%}
    {%- if 'user_key' in columns -%}
        {%- do selects.append('select cast(null as string), user_key, cast(null as string) from ' ~ players) -%}
        {%- do conditions.append('t.user_key = v.user_key') -%}
    {%- endif -%}
    {%- set id_columns = player_id_columns(table.source.source_name, table.source.name) if table.source else [] -%}
    {%- for column in id_columns if column in columns -%}
        {%- do selects.append(
            'select cast(null as string), cast(null as string), ' ~ column ~ ' from ' ~ table.relation
            ~ ' where ' ~ pseudonymize(column) ~ ' in (select user_key from ' ~ players ~ ')') -%}
        {%- do conditions.append('t.' ~ column ~ ' = v.player_id') -%}
    {%- endfor -%}
    {%- if selects -%}
        {{ return({'victims': selects | join(' union ') , 'condition': conditions | join(' or ')}) }}
    {%- elif '_raw' in columns -%}
        {#- quarantine: the raw record's session_id field is a forgotten session, or a player id field is a
            forgotten player's: the field's exact value (JSON-decoded; for text that is no valid JSON, the
            quoted value a regular expression finds), never a substring of the record -#}
        {%- set raw = 'cast(quarantined._raw as string)' -%}
        {%- set named = [] -%}
        {%- for column in player_id_columns() -%}
            {%- do named.append(pseudonymize(raw_json_field(raw, column)) ~ ' in (select user_key from ' ~ players ~ ')') -%}
        {%- endfor -%}
        {%- do named.append(raw_json_field(raw, 'session_id') ~ ' in (select session_id from ' ~ sessions ~ ')') -%}
        {{ return({
            'victims': 'select distinct _raw from ' ~ table.relation ~ ' as quarantined where ' ~ named | join(' or '),
            'condition': 't._raw = v._raw',
        }) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}
