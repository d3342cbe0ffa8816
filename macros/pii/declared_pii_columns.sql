{#- Names of the source columns declared PII in YAML (`meta: {pii: ...}`), lower case. -#}
{% macro declared_pii_columns() -%}
    {%- set names = [] -%}
    {%- for node in graph.sources.values() -%}
        {%- for column in node.columns.values() if column.meta.get('pii') is not none -%}
            {%- if column.name | lower not in names -%}
                {%- do names.append(column.name | lower) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}
