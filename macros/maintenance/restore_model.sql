{#-
    Rolls a model's Delta table back to an earlier version (dbt run-operation restore_model
    --args '{model: sessions, version: 12}'); see model_history for the versions. The restore is itself a
    new version, so it can be undone, and the Change Data Feed carries it to the search index.
-#}
{% macro restore_model(model, version) -%}
    {%- set relation = model_relation(model) -%}
    {%- do run_query('restore table ' ~ relation ~ ' to version as of ' ~ (version | int)) -%}
    {{ log("restored " ~ relation ~ " to version " ~ version, info=true) }}
{%- endmacro %}
