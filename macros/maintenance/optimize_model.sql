{#-
    Compacts a model's Delta table and Z-orders it (dbt run-operation optimize_model
    --args '{model: sessions, zorder_by: [session_id]}'), so that reads of a few sessions skip most files.
    A liquid-clustered table (Databricks: liquid_clustered_by) refuses ZORDER: OPTIMIZE clusters it by its
    own keys, so zorder_by is dropped there.
-#}
{% macro optimize_model(model, zorder_by=['session_id']) -%}
    {%- set relation = model_relation(model) -%}
    {%- if target.type == 'databricks' -%}{%- set zorder_by = none -%}{%- endif -%}
    {%- set sql -%}
        optimize {{ relation }}{% if zorder_by %} zorder by ({{ zorder_by | join(', ') }}){% endif %}
    {%- endset -%}
    {%- set result = run_query(sql) -%}
    {{ log("optimized " ~ relation ~ ": " ~ (result.rows[0] | list if result.rows else 'nothing to do'), info=true) }}
{%- endmacro %}
