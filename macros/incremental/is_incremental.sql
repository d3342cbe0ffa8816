{#- dbt's own is_incremental(), except that an offline compile (see introspective()) renders the
    first-build form instead of failing on the relation lookup. -#}
{% macro is_incremental() %}
    {%- if not introspective() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set relation = adapter.get_relation(this.database, this.schema, this.table) -%}
    {{ return(relation is not none
              and relation.type == 'table'
              and model.config.materialized == 'incremental'
              and not should_full_refresh()) }}
{% endmacro %}
