{#-
    max(<column>) of a relation as a timestamp literal (epoch when the relation is empty). Rendered as a
    constant, not a subquery, so Delta can skip files and partitions before reading them.
-#}
{% macro high_water_mark(column, relation=this) -%}
    {%- if not introspective() -%}
        {{ return('timestamp_micros(0)') }}
    {%- endif -%}
    {%- set result = run_query('select coalesce(unix_micros(max(' ~ column ~ ')), 0) from ' ~ relation) -%}
    {{ return('timestamp_micros(' ~ (result.columns[0].values()[0] | int) ~ ')') }}
{%- endmacro %}
