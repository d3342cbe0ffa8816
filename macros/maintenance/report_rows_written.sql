{#-
    Post-hook of every model: the rows its statement wrote, as Delta recorded them in the commit it made
    (operation and operationMetrics of the table's latest commit, when stamped by this invocation:
    stamp_build_commits). Logged at debug level as `report_rows_written: {json}`, which
    sessionlake.transform collects for the build's report; a model that committed nothing logs nothing.
-#}
{% macro report_rows_written() -%}
    {%- if execute and model.config.materialized in ('incremental', 'table') -%}
        {%- set latest = run_query('describe history ' ~ this ~ ' limit 1').rows[0] -%}
        {%- if latest['userMetadata'] == 'build:' ~ invocation_id -%}
            {%- set metrics = latest['operationMetrics'] or {} -%}
            {#- a map on the session connection, its JSON text over the Thrift Server -#}
            {%- set report = {
                'table': this.schema ~ '.' ~ this.identifier,
                'operation': latest['operation'],
                'metrics': metrics if metrics is mapping else fromjson(metrics),
            } -%}
            {{ log('report_rows_written: ' ~ tojson(report)) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
