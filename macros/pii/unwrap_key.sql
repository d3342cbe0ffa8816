{#- The data key of a wrapped key (fails on a wrong master key or another player's row: GCM authentication). -#}
{% macro unwrap_key(wrapped_key, user_key) -%}
    aes_decrypt({{ wrapped_key }}, {{ master_key() }}, 'GCM', 'DEFAULT', {{ key_aad(user_key) }})
{%- endmacro %}
