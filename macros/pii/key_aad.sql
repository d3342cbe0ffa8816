{#- The associated data binding a wrapped data key to its player (wrap_key, unwrap_key, rotate_master_key). -#}
{% macro key_aad(user_key) -%}
    concat('data_key:', {{ user_key }})
{%- endmacro %}
