{#-
    AES-GCM encryption of a value (cast to string) with a binary key expression: a fresh random 12-byte
    IV per value, authenticated, so the same value never encrypts twice to the same bytes. Null stays null.
-#}
{% macro encrypt(column, key) -%}
    aes_encrypt(cast({{ column }} as string), {{ key }}, 'GCM')
{%- endmacro %}
