{#- The aggregate expressions that merge the unioned service rows of a session into one row. -#}
{% macro merge_session_metrics(columns) -%}
    {%- for column in columns -%}
        {%- if column.merge == 'preferred' -%}
            {%- set expression = 'min_by(' ~ column.name ~ ', service_rank) filter (where '
                ~ column.name ~ ' is not null)' -%}
        {%- elif column.merge in ('min', 'max') -%}
            {%- set expression = column.merge ~ '(' ~ column.name ~ ')' -%}
        {%- else -%}
            {{ exceptions.raise_compiler_error("unknown sessions merge rule '" ~ column.merge ~ "' for " ~ column.name) }}
        {%- endif -%}
        {%- if column.default is not none -%}
            {%- set expression = 'coalesce(' ~ expression ~ ', ' ~ column.default ~ ')' -%}
        {%- endif %}
        {{ expression }} as {{ column.name }}
        {%- if not loop.last %},{% endif -%}
    {%- endfor -%}
{%- endmacro %}
