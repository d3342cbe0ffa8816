{#-
    Deletes, in every erasure table (erasure_tables) of `schemas`, the rows of the players and sessions
    on the deny-lists, then purges the older table versions (purge_history). Returns
    {'rows_deleted': {table: rows}, 'tables_purged': [...], 'history_purged': bool}. Idempotent: a second run
    deletes 0 rows. Also a run-operation on its own (`sessionlake retention` runs it for bronze, where late
    data of a forgotten player lands): dbt run-operation erase_forgotten --args '{schemas: [bronze]}'.
    Deletes are MERGEs against the victims of erasure_victims: a Delta DELETE would log its predicate with
    the literal values in the transaction log.
-#}
{% macro erase_forgotten(schemas=var('erasure_schemas'), writers_paused=false) -%}
    {%- do assert_pii_secret_set() -%}
    {%- set tables = erasure_tables(schemas) -%}
    {%- set rows_deleted = {} -%}
    {%- for table in tables -%}
        {%- set match = erasure_victims(table) -%}
        {%- if match is not none -%}
            {%- set result = run_query(
                'merge into ' ~ table.relation ~ ' as t using (' ~ match.victims ~ ') as v on '
                ~ match.condition ~ ' when matched then delete') -%}
            {%- set deleted = result.columns['num_deleted_rows'].values()[0] if result.rows else 0 -%}
            {%- do rows_deleted.update({table.name: deleted | int}) -%}
            {#- committed: counted by the caller even if a later statement fails and the operation is retried -#}
            {{ log('rows_deleted: ' ~ tojson({'table': table.name, 'rows': deleted | int}), info=true) }}
        {%- endif -%}
    {%- endfor -%}
    {%- set purged = [] -%}
    {#- zero-retention VACUUMs: Delta's check refuses them unless turned off (for this session, here) -#}
    {%- set check = 'spark.databricks.delta.retentionDurationCheck.enabled' -%}
    {%- do run_query('set ' ~ check ~ ' = false') -%}
    {%- for table in tables -%}
        {%- do purged.append(purge_history(table.relation, writers_paused and table.relation.schema != 'bronze')) -%}
    {%- endfor -%}
    {%- do run_query('set ' ~ check ~ ' = true') -%}
    {%- set report = {
        'rows_deleted': rows_deleted,
        'tables_purged': tables | map(attribute='name') | sort,
        'history_purged': purged | select | list | length == purged | length,
    } -%}
    {{ log('erase_forgotten: ' ~ tojson(report), info=true) }}
    {{ return(report) }}
{%- endmacro %}
