{#-
    Pre-hook of every model: this connection's Delta commits carry the invocation's id as their
    userMetadata (`build:<invocation_id>`), so report_rows_written can tell the build's own commit from
    an older one. sessionlake.transform clears the setting on its session after the build.
-#}
{% macro stamp_build_commits() -%}
    {%- if execute and model.config.materialized in ('incremental', 'table') -%}
        set spark.databricks.delta.commitInfo.userMetadata = build:{{ invocation_id }}
    {%- endif -%}
{%- endmacro %}
