{#- The data key of a wrapped key (fails on a wrong master key: GCM authentication). -#}
{% macro unwrap_key(wrapped_key) -%}
    aes_decrypt({{ wrapped_key }}, {{ master_key() }}, 'GCM')
{%- endmacro %}
