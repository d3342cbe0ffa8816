{#-
    Whether a Delta table's history (`describe history`, newest first) holds a commit that removed data
    files since its last complete purge: a VACUUM with zero retention that finished. Appends (WRITE or
    STREAMING UPDATE in Append mode), table creation and property or column changes remove no file; any
    other operation (DELETE, MERGE, UPDATE, OPTIMIZE, REPLACE, RESTORE, an overwrite) may have, so the
    table is purged. Saves a VACUUM per append-only table on each erasure and retention run.
-#}
{% macro purge_needed(history) -%}
    {%- set keeps = ['CREATE TABLE', 'SET TBLPROPERTIES', 'ADD COLUMNS', 'CHANGE COLUMN', 'UPGRADE PROTOCOL'] -%}
    {%- set ends = [] -%}
    {%- set purges = [-1] -%}
    {%- for row in history -%}
        {%- if row['operation'] == 'VACUUM END' -%}
            {%- do ends.append(row['version']) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for row in history if row['operation'] == 'VACUUM START' -%}
        {%- set zero = modules.re.search('specifiedRetentionMillis[^0-9]+0[^0-9]', row['operationParameters'] | string) -%}
        {%- if zero and ends | select('>', row['version']) | list -%}
            {%- do purges.append(row['version']) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set purged_at = purges | max -%}
    {%- for row in history if row['version'] > purged_at and row['operation'] not in ['VACUUM START', 'VACUUM END'] -%}
        {%- set appended = row['operation'] in ['WRITE', 'STREAMING UPDATE']
            and modules.re.search('Append', row['operationParameters'] | string) -%}
        {%- if not appended and row['operation'] not in keeps -%}
            {{ return(true) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(false) }}
{%- endmacro %}
