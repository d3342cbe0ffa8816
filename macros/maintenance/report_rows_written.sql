{#-
    Post-hook of every model: the rows its statement wrote, as Delta recorded them in the commit it made.
    sessionlake.transform stamps a build's commits (Delta's commitInfo.userMetadata, set on its session
    or, over the Thrift Server, on each connection dbt opens) with SESSIONLAKE_BUILD_STAMP; the latest commit
    of this build's stamp that wrote data (a contract's constraints are committed after the rows) has its
    operation and operationMetrics logged at
    debug level as `report_rows_written: {json}`, which sessionlake.transform collects. A model that
    committed nothing logs nothing; plain dbt (no stamp) runs no query here.
-#}
{% macro report_rows_written() -%}
    {%- if execute and model.config.materialized in ('incremental', 'table') -%}
        {%- set stamp = env_var('SESSIONLAKE_BUILD_STAMP', '') -%}
        {%- if stamp -%}
            {#- A contracted model's first build commits the rows, then its constraints: the latest of this
                build's commits that wrote data, not a metadata change. -#}
            {%- set metadata_only = ['ADD CONSTRAINT', 'DROP CONSTRAINT', 'SET TBLPROPERTIES', 'UNSET TBLPROPERTIES',
                'CHANGE COLUMN', 'ADD COLUMNS', 'CREATE TABLE', 'REPLACE TABLE', 'CREATE OR REPLACE TABLE'] -%}
            {%- set found = {'commit': none} -%}
            {%- for commit in run_query('describe history ' ~ this ~ ' limit 5').rows -%}
                {%- if found.commit is none and commit['userMetadata'] == stamp
                    and commit['operation'] not in metadata_only -%}
                    {%- do found.update({'commit': commit}) -%}
                {%- endif -%}
            {%- endfor -%}
            {%- set latest = found.commit -%}
            {%- if latest is not none -%}
                {%- set metrics = latest['operationMetrics'] or {} -%}
                {#- a map on the session connection, its JSON text over the Thrift Server -#}
                {%- set report = {
                    'table': this.schema ~ '.' ~ this.identifier,
                    'operation': latest['operation'],
                    'metrics': metrics if metrics is mapping else fromjson(metrics, {}),
                } -%}
                {{ log('report_rows_written: ' ~ tojson(report)) }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
