{#-
    Renders a PII column of a bronze source the way its YAML declares, GitLab data-team style:
    `meta: {pii: {method: hash, as: user_key}}` on the source column. The treatment is declared once,
    in _<service>__sources.yml; a PII column without a declaration fails the build, and so does a keyed
    hash in a view (it would run in the reader's session, without the key). Methods:
    `hash` (pseudonymize: a keyed hash, joinable), `mask_ip` (the /24 network), `mask_email` (the domain).
-#}
{% macro protect_pii(column, source_name, table_name) -%}
    {%- if not execute -%}
        {{ return('null as ' ~ column) }}
    {%- endif -%}
    {%- set pii = source_column_meta(source_name, table_name, column).get('pii') -%}
    {%- if pii is none -%}
        {{ exceptions.raise_compiler_error(
            "column " ~ column ~ " of source " ~ source_name ~ "." ~ table_name
            ~ " has no `meta: {pii: ...}` declaration") }}
    {%- endif -%}
    {%- if pii.method == 'hash' and config.get('materialized') == 'view' -%}
        {{ exceptions.raise_compiler_error(
            "protect_pii: " ~ model.name ~ " is a view: the keyed hash of " ~ column ~ " would run at query"
            ~ " time, in the reader's session, which holds no key; materialize it as a table or incremental model") }}
    {%- elif pii.method == 'hash' -%}
        {{ pseudonymize(column) }} as {{ pii.get('as', column ~ '_key') }}
    {%- elif pii.method == 'mask_ip' -%}
        {{ mask_ip(column) }} as {{ pii.get('as', column ~ '_network') }}
    {%- elif pii.method == 'mask_email' -%}
        {{ mask_email(column) }} as {{ pii.get('as', column ~ '_domain') }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("unknown PII method '" ~ pii.method ~ "' for " ~ column) }}
    {%- endif -%}
{%- endmacro %}
