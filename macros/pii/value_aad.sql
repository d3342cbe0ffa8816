{#- The associated data binding an encrypted value to its player and its column (encrypt, decrypt). -#}
{% macro value_aad(column, user_key) -%}
    concat('{{ column }}:', {{ user_key }})
{%- endmacro %}
