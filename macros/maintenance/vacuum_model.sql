{#-
    Deletes files older than the retention that no current version of a model's table uses
    (dbt run-operation vacuum_model --args '{model: sessions, retain_hours: 168}'). Refuses a retention
    below vars.exporter_max_lag_hours: the exporter reads old versions through the Change Data Feed, and
    time travel (restore_model) cannot go back further than the retention either.
-#}
{% macro vacuum_model(model, retain_hours=var('vacuum_retain_hours')) -%}
    {%- set floor = var('exporter_max_lag_hours') -%}
    {%- if retain_hours | float < floor | float -%}
        {{ exceptions.raise_compiler_error(
            "refusing to vacuum " ~ model ~ " with retain_hours=" ~ retain_hours
            ~ ": below the exporter's maximum lag of " ~ floor ~ " hours (vars.exporter_max_lag_hours)") }}
    {%- endif -%}
    {%- set relation = model_relation(model) -%}
    {%- do run_query('vacuum ' ~ relation ~ ' retain ' ~ retain_hours ~ ' hours') -%}
    {{ log("vacuumed " ~ relation ~ " keeping " ~ retain_hours ~ " hours", info=true) }}
{%- endmacro %}
