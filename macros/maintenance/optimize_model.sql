{#-
    Compacts a model's Delta table and Z-orders it (dbt run-operation optimize_model
    --args '{model: sessions, zorder_by: [session_id]}'), so that reads of a few sessions skip most files.
-#}
{% macro optimize_model(model, zorder_by=['session_id']) -%}
    {%- set relation = model_relation(model) -%}
    {%- set sql -%}
        optimize {{ relation }}{% if zorder_by %} zorder by ({{ zorder_by | join(', ') }}){% endif %}
    {%- endset -%}
    {%- set result = run_query(sql) -%}
    {{ log("optimized " ~ relation ~ ": " ~ (result.rows[0] | list if result.rows else 'nothing to do'), info=true) }}
{%- endmacro %}
