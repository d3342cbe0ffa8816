{#-
    A data key encrypted (AES-GCM) with the master key, for storage in pii.pii_player_keys, bound to its
    player: the user key is the ciphertext's associated data, so a wrapped key copied to another player's
    row does not unwrap.
-#}
{% macro wrap_key(data_key, user_key) -%}
    aes_encrypt({{ data_key }}, {{ master_key() }}, 'GCM', 'DEFAULT', unhex(''), {{ key_aad(user_key) }})
{%- endmacro %}
