{#-
    union all of the registered per-service session aggregates, padded with typed nulls to the same
    columns, with each service's rank (its position in vars.session_metrics). With `touched_cte`, only
    the sessions it lists (a left semi join Spark pushes below each aggregate).
-#}
{% macro union_session_metrics(columns, touched_cte=none) -%}
    {%- for entry in var('session_metrics') %}
    {#- Declares the service's silver model as a dependency: sessions_touched_since reads it on incremental runs. -#}
    {%- do ref(entry.silver) %}
    select
        service_metrics.session_id,
        {{ loop.index }} as service_rank
        {%- for column in columns %},
        {% if entry.model in column.models -%}
            service_metrics.{{ column.name }}
        {%- else -%}
            cast(null as {{ column.data_type }}) as {{ column.name }}
        {%- endif -%}
        {%- endfor %}
    from {{ ref(entry.model) }} as service_metrics
    {%- if touched_cte is not none %}
        left semi join {{ touched_cte }} on service_metrics.session_id = {{ touched_cte }}.session_id
    {%- endif %}
    {%- if not loop.last %}
    union all
    {%- endif -%}
    {%- endfor -%}
{%- endmacro %}
