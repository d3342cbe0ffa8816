{#- An IPv4 address reduced to its /24 network (`10.1.2.3` -> `10.1.2.0/24`); anything else -> null. -#}
{% macro mask_ip(column) -%}
    case
        when {{ column }} rlike '^[0-9]{1,3}[.][0-9]{1,3}[.][0-9]{1,3}[.][0-9]{1,3}$'
            then concat(substring_index({{ column }}, '.', 3), '.0/24')
    end
{%- endmacro %}
