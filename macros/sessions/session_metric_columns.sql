{#-
    The sessions columns contributed by the per-service aggregates registered in vars.session_metrics,
    in registration order: [{name, data_type, merge, default, models}], read from the intermediate
    models' YAML (data_type and meta.sessions). Empty while dbt parses.
-#}
{% macro session_metric_columns() -%}
    {%- set columns = [] -%}
    {%- set by_name = {} -%}
    {%- if not execute -%}
        {{ return(columns) }}
    {%- endif -%}
    {%- for entry in var('session_metrics') -%}
        {%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ entry.model) -%}
        {%- if node is none -%}
            {{ exceptions.raise_compiler_error("vars.session_metrics names unknown model " ~ entry.model) }}
        {%- endif -%}
        {%- for name, column in node.columns.items() if name != 'session_id' -%}
            {%- if not column.data_type -%}
                {{ exceptions.raise_compiler_error(entry.model ~ "." ~ name ~ " needs a data_type in YAML") }}
            {%- endif -%}
            {%- if name not in by_name -%}
                {%- set rule = column.meta.get('sessions', {}) -%}
                {%- set spec = {
                    'name': name,
                    'data_type': column.data_type,
                    'merge': rule.get('merge', 'preferred'),
                    'default': rule.get('default'),
                    'models': [],
                } -%}
                {%- do by_name.update({name: spec}) -%}
                {%- do columns.append(spec) -%}
            {%- endif -%}
            {%- do by_name[name].models.append(entry.model) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}
