{#-
    on-run-start (and forget_player): the privacy tables forget writes, which the vault and staging models
    read. The deny-lists hold pseudonymous keys and session ids only, never raw PII (docs/pii.md).
-#}
{% macro create_privacy_tables() -%}
    {%- if introspective() -%}
        {%- do run_query('create database if not exists pii') -%}
        {%- for table, columns in privacy_tables().items() -%}
            {%- do run_query('create table if not exists pii.' ~ table ~ ' (' ~ columns ~ ') using delta') -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
