{#-
    Inverse of `encrypt`: the plaintext string, or null when the key is null (a destroyed player key).
    A wrong key, a tampered ciphertext or one moved from another row or column fails the query (GCM
    authentication) instead of returning garbage.
-#}
{% macro decrypt(column, key, user_key='user_key') -%}
    cast(aes_decrypt({{ column }}, {{ key }}, 'GCM', 'DEFAULT', {{ value_aad(column, user_key) }}) as string)
{%- endmacro %}
