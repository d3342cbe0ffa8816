{#-
    Rows of `candidates_cte` that differ from the current row of the same session in {{ this }} (or have
    none), so the merge updates, and stamps updated_at on, only sessions whose values changed. Doubles
    compare with a relative tolerance: a recomputed average may differ in its last bits. A column that
    {{ this }} does not have yet (a newly registered service) counts as null there.
-#}
{% macro changed_sessions(candidates_cte, columns) -%}
    {%- if is_incremental() -%}
    {#- Unit tests have no manifest graph and give {{ this }} as a fixture with every column. -#}
    {%- set existing = columns | map(attribute='name') | list -%}
    {%- if execute and graph.get('nodes') -%}
        {%- set existing = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
    {%- endif -%}
    select candidates.*
    from {{ candidates_cte }} as candidates
    left anti join {{ this }} as current_sessions
        on candidates.session_id = current_sessions.session_id
        {%- for column in columns -%}
            {%- set new = 'candidates.' ~ column.name -%}
            {%- set old = 'current_sessions.' ~ column.name %}
        and
            {%- if column.name not in existing %} {{ new }} is null
            {%- elif column.data_type == 'double' %} ({{ new }} <=> {{ old }} or abs({{ new }} - {{ old }}) <= 1e-9 * abs({{ old }}))
            {%- else %} {{ new }} <=> {{ old }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
    select * from {{ candidates_cte }}
    {%- endif -%}
{%- endmacro %}
