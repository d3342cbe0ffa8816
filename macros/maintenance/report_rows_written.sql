{#-
    Post-hook of every model: the rows its statement wrote, as Delta recorded them in the commit it made.
    sessionlake.transform stamps a build's commits (Delta's commitInfo.userMetadata, set on its session
    or, over the Thrift Server, on each connection dbt opens) with SESSIONLAKE_BUILD_STAMP; when the
    table's latest commit carries this build's stamp, its operation and operationMetrics are logged at
    debug level as `report_rows_written: {json}`, which sessionlake.transform collects. A model that
    committed nothing logs nothing; plain dbt (no stamp) runs no query here.
-#}
{% macro report_rows_written() -%}
    {%- if execute and model.config.materialized in ('incremental', 'table') -%}
        {%- set stamp = env_var('SESSIONLAKE_BUILD_STAMP', '') -%}
        {%- if stamp -%}
            {%- set latest = run_query('describe history ' ~ this ~ ' limit 1').rows[0] -%}
            {%- if latest['userMetadata'] == stamp -%}
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
