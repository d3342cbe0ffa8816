{#-
    The right to erasure, table side (docs/pii.md): dbt run-operation forget_player --args '{user_id: alice-42}'
    (or `user_key: <pseudonymous key>`; `sessionlake forget` calls it with the key, so the raw id never
    reaches dbt's logs). Puts the player's key and sessions on the deny-lists, deletes their rows from
    bronze, silver, gold and the vault (erase_forgotten), which destroys their data key, purges older table
    versions, and appends an audit row without PII (with `index_pending`, as `sessionlake forget` calls it,
    the row's completed_at stays null until the caller has cleaned the search index). Idempotent: run it again after a failure (a Delta commit
    conflict with a concurrent writer, a crash). The search index is not reached from dbt: the exporter
    deletes the documents at its next run (docs/pii.md, "Only the run-operation").
-#}
{% macro forget_player(user_id=none, user_key=none, request_id=none, writers_paused=false, index_pending=false) -%}
    {%- if (user_id is none) == (user_key is none) -%}
        {{ exceptions.raise_compiler_error('forget_player needs exactly one of user_id, user_key') }}
    {%- endif -%}
    {%- set requested_at = modules.datetime.datetime.utcnow() -%}
    {%- set request = (request_id or invocation_id) | string -%}
    {%- if not modules.re.fullmatch('[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}', request) -%}
        {#- stored through SQL, where `${...}` would be substituted (a secret) and a quote ends the literal -#}
        {{ exceptions.raise_compiler_error('forget_player: request_id must be 1-128 characters of letters, digits and . _ : / -') }}
    {%- endif -%}
    {%- do assert_pii_secret_set() -%}
    {%- do create_privacy_tables() -%}
    {%- if user_key is none -%}
        {%- set literal = "'" ~ (user_id | string | replace('\\', '\\\\') | replace("'", "\\'")) ~ "'" -%}
        {%- set user_key = run_query('select ' ~ pseudonymize(literal)).columns[0].values()[0] -%}
    {%- endif -%}
    {%- if not modules.re.fullmatch('[0-9a-f]{64}', user_key | string) -%}
        {{ exceptions.raise_compiler_error('forget_player: user_key must be the 64 hex digits of a pseudonymous key') }}
    {%- endif -%}
    {%- set found = [] -%}
    {%- for table in erasure_tables() if 'session_id' in table.columns -%}
        {%- if 'user_key' in table.columns -%}
            {%- do found.append('select session_id from ' ~ table.relation ~ " where user_key = '" ~ user_key ~ "'") -%}
        {%- endif -%}
        {%- for column in (player_id_columns(table.source.source_name, table.source.name) if table.source else [])
            if column in table.columns -%}
            {%- do found.append('select session_id from ' ~ table.relation
                ~ ' where ' ~ pseudonymize(column) ~ " = '" ~ user_key ~ "'") -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set players = source('privacy', 'forgotten_players') -%}
    {%- set sessions = source('privacy', 'forgotten_sessions') -%}
    {%- do run_query(
        'insert into ' ~ players ~ " select '" ~ user_key ~ "', current_timestamp()"
        ~ ' where not exists (select 1 from ' ~ players ~ " where user_key = '" ~ user_key ~ "')") -%}
    {%- if found -%}
        {%- do run_query(
            'insert into ' ~ sessions ~ ' select distinct found.session_id, current_timestamp() from ('
            ~ found | join(' union ') ~ ") as found where trim(found.session_id) != '' and not exists ("
            ~ 'select 1 from ' ~ sessions ~ ' as forgotten where forgotten.session_id = found.session_id)') -%}
    {%- endif -%}
    {%- set report = erase_forgotten(writers_paused=writers_paused) -%}
    {%- do report.update({'keys_destroyed': report.rows_deleted.get('pii.pii_player_keys', 0)}) -%}
    {%- set counts = [] -%}
    {%- for table, rows in report.rows_deleted.items() -%}
        {%- do counts.append("'" ~ table ~ "', " ~ rows) -%}
    {%- endfor -%}
    {%- set purged = [] -%}
    {%- for table in report.tables_purged -%}
        {%- do purged.append("'" ~ table ~ "'") -%}
    {%- endfor -%}
    {%- do run_query(
        'insert into ' ~ source('privacy', 'erasure_audit') ~ " select '" ~ request ~ "', timestamp'" ~ requested_at
        ~ "', " ~ ('cast(null as timestamp)' if index_pending else 'current_timestamp()')
        ~ ", cast(map(" ~ counts | join(', ') ~ ') as map<string, bigint>), cast(null as bigint), '
        ~ report.keys_destroyed ~ ', cast(array(' ~ purged | join(', ')
        ~ ') as array<string>), ' ~ (report.history_purged | string | lower)) -%}
    {{ log('forget_player: ' ~ tojson(report), info=true) }}
{%- endmacro %}
