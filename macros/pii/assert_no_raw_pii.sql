{#-
    Pre-hook of every model (dbt_project.yml): fails the model, before anything is written, when its query
    exposes raw PII (docs/pii.md, "The guard"):
    1. by name: an output column named like a declared PII source column (user_id, email, ip_address, ...)
       instead of the macro's output (user_key, email_key, ...; the vault stores *_encrypted);
    2. by value, for a model reading a source that declares PII columns: the query is run once more, and
       fails when any output value equals (case and surrounding blanks aside) a raw value of a declared
       PII column of those sources: a raw column that reaches the output under another name, through CTEs,
       joins, unions or coalesce, is caught whatever the SQL looks like. Models reading only other models
       get their input from models checked this way. An incremental build compares its new rows with the
       raw values of the bronze rows in its window (pii_scan_window_start); `pii_value_scan: full`
       (`sessionlake build --checks all`) with the whole history.
-#}
{% macro assert_no_raw_pii() -%}
    {%- if execute and model.resource_type == 'model' -%}
        {%- set declared = declared_pii_columns() -%}
        {%- set columns = get_columns_in_query(model.compiled_code) -%}
        {%- set exposed = columns | map('lower') | select('in', declared) | list -%}
        {%- if exposed -%}
            {{ exceptions.raise_compiler_error(
                "model " ~ model.name ~ " exposes declared PII column(s) " ~ exposed | join(', ')
                ~ " without a PII macro: use protect_pii (hash, mask) or encrypt") }}
        {%- endif -%}
        {%- set pii_sources = [] -%}
        {%- for node_id in model.depends_on.nodes if node_id in graph.sources -%}
            {%- if graph.sources[node_id].columns.values() | selectattr('meta.pii', 'defined') | list -%}
                {%- do pii_sources.append(node_id) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if pii_sources and columns -%}
            {%- set pairs = [] -%}
            {%- for column in columns -%}
                {%- do pairs.append("'" ~ column ~ "', lower(trim(cast(`" ~ column ~ "` as string)))") -%}
            {%- endfor -%}
            {%- set check -%}
                select distinct concat(model_values.column_name, ' <- ', raw_values.pii_column) as leak
                from (
                    select stack({{ columns | length }}, {{ pairs | join(', ') }}) as (column_name, value)
                    from ({{ model.compiled_code }}) as model_rows
                ) as model_values
                inner join ({{ raw_pii_values(pii_sources, pii_scan_window_start()) }}) as raw_values
                    on model_values.value = raw_values.value
            {%- endset -%}
            {%- set leaks = run_query(check).columns[0].values() | list -%}
            {%- if leaks -%}
                {{ exceptions.raise_compiler_error(
                    "model " ~ model.name ~ " exposes raw PII values: " ~ leaks | sort | join(', ')
                    ~ " (output column <- declared PII source column): use protect_pii (hash, mask) or encrypt") }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
