{#-
    Pre-hook of every model (dbt_project.yml): fails the model, before anything is written, when its
    query exposes a column named like a declared PII source column (user_id, email, ip_address, ...)
    instead of the macro's output (user_key, email_key, ...). The vault stores them as *_encrypted.
-#}
{% macro assert_no_raw_pii() -%}
    {%- if execute and model.resource_type == 'model' -%}
        {%- set declared = declared_pii_columns() -%}
        {%- set exposed = [] -%}
        {%- for column in get_columns_in_query(model.compiled_code) if column | lower in declared -%}
            {%- do exposed.append(column | lower) -%}
        {%- endfor -%}
        {%- if exposed -%}
            {{ exceptions.raise_compiler_error(
                "model " ~ model.name ~ " exposes declared PII column(s) " ~ exposed | join(', ')
                ~ " without a PII macro: use protect_pii (hash, mask) or encrypt") }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
