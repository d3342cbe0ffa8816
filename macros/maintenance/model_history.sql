{#- Lists the latest versions of a model's Delta table (dbt run-operation model_history --args '{model: sessions}'). -#}
{% macro model_history(model, limit=20) -%}
    {%- set relation = model_relation(model) -%}
    {%- set history = run_query('describe history ' ~ relation ~ ' limit ' ~ limit) -%}
    {%- for row in history.rows -%}
        {{ log(row['version'] ~ '  ' ~ row['timestamp'] ~ '  ' ~ row['operation'] ~ '  ' ~ row['operationMetrics'], info=true) }}
    {%- endfor -%}
    {{ return(history) }}
{%- endmacro %}
