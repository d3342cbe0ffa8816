{#- A data key encrypted (AES-GCM) with the master key, for storage in pii.pii_player_keys. -#}
{% macro wrap_key(data_key) -%}
    aes_encrypt({{ data_key }}, {{ master_key() }}, 'GCM')
{%- endmacro %}
