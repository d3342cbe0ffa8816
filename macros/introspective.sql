{#-
    True when this invocation may query the warehouse: dbt is executing (not parsing) and did not get
    `--no-introspect`. `dbt compile --no-introspect --no-populate-cache` renders every model and hook with
    no connection (the offline compile of the `databricks` target in tests/test_databricks_target.py):
    incremental models render their first-build form and the guards, which only read, are skipped.
    `--no-introspect` exists only on `compile` and `show`, which write nothing.
-#}
{% macro introspective() -%}
    {{ return(execute and flags.INTROSPECT) }}
{%- endmacro %}
