{#- An e-mail address reduced to its lower-cased domain (`Ann@Example.com` -> `example.com`); else null. -#}
{% macro mask_email(column) -%}
    case
        when {{ column }} rlike '^[^@]+@[^@]+$' then lower(substring_index({{ column }}, '@', -1))
    end
{%- endmacro %}
