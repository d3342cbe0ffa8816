{#-
    AES-GCM encryption of a value (cast to string) with a binary key expression: a fresh random 12-byte
    IV per value, authenticated, so the same value never encrypts twice to the same bytes. The player's
    user key and the column name are the associated data: a ciphertext moved to another row or column
    does not decrypt. Null stays null.
-#}
{% macro encrypt(column, key, user_key='user_key') -%}
    aes_encrypt(cast({{ column }} as string), {{ key }}, 'GCM', 'DEFAULT', unhex(''), {{ value_aad(column, user_key) }})
{%- endmacro %}
