{#-
    Rows of `candidates_cte` that differ from the current row of the same session in {{ this }} (or have
    none), so the merge updates, and stamps updated_at on, only sessions whose values changed. Doubles
    compare with a relative tolerance: a recomputed average may differ in its last bits.
-#}
{% macro changed_sessions(candidates_cte, columns) -%}
    {%- if is_incremental() -%}
    select candidates.*
    from {{ candidates_cte }} as candidates
    left anti join {{ this }} as current_sessions
        on candidates.session_id = current_sessions.session_id
        {%- for column in columns -%}
            {%- set new = 'candidates.' ~ column.name -%}
            {%- set old = 'current_sessions.' ~ column.name %}
        and
            {%- if column.data_type == 'double' %} ({{ new }} <=> {{ old }} or abs({{ new }} - {{ old }}) <= 1e-9 * abs({{ old }}))
            {%- else %} {{ new }} <=> {{ old }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
    select * from {{ candidates_cte }}
    {%- endif -%}
{%- endmacro %}
