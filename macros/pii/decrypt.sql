{#-
    Inverse of `encrypt`: the plaintext string, or null when the key is null (a destroyed player key).
    A wrong key or tampered ciphertext fails the query (GCM authentication) instead of returning garbage.
-#}
{% macro decrypt(column, key) -%}
    cast(aes_decrypt({{ column }}, {{ key }}, 'GCM') as string)
{%- endmacro %}
