{#-
    Physically deletes the files that only older versions of `relation` use, so no table version still
    holds erased rows; returns true when all of them went. Deletion vectors are purged first (a delete
    behind a deletion vector leaves the row in its file). VACUUM LITE RETAIN 0 HOURS deletes exactly the
    files the log marks as removed, never a file a concurrent writer has not committed yet, so it is safe
    beside ingest and builds. LITE needs every log entry since the last vacuum: when the log no longer
    starts at version 0 (cleaned up), FULL is used, with zero retention only if no writer can be in flight
    (`writers_paused`: sessionlake forget holds the build lock), else keeping an hour (returns false).
    A table whose history since its last complete purge only appended (purge_needed) has nothing to purge.
    The caller turns Delta's retention check off around its purges (erase_forgotten).
-#}
{% macro purge_history(relation, writers_paused=false) -%}
    {%- set history = run_query('describe history ' ~ relation) -%}
    {%- if not purge_needed(history) -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set properties = {} -%}
    {%- for row in run_query('show tblproperties ' ~ relation) -%}
        {%- do properties.update({row[0]: row[1]}) -%}
    {%- endfor -%}
    {%- if properties.get('delta.enableDeletionVectors', 'false') | lower == 'true' -%}
        {%- do run_query('reorg table ' ~ relation ~ ' apply (purge)') -%}
    {%- endif -%}
    {%- set oldest = history.columns['version'].values() | min -%}
    {%- if oldest == 0 -%}
        {%- do run_query('vacuum ' ~ relation ~ ' lite retain 0 hours') -%}
        {%- set complete = true -%}
    {%- else -%}
        {%- set hours = 0 if writers_paused else 1 -%}
        {{ log('purge_history: the log of ' ~ relation ~ ' was cleaned up, VACUUM FULL RETAIN ' ~ hours ~ ' HOURS', info=true) }}
        {%- do run_query('vacuum ' ~ relation ~ ' retain ' ~ hours ~ ' hours') -%}
        {%- set complete = writers_paused -%}
    {%- endif -%}
    {{ return(complete) }}
{%- endmacro %}
