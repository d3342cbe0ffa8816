{#-
    A fresh 32-byte AES key per row, from the JVM's SecureRandom: Spark draws every AES-GCM IV from it, so
    the IVs of two encryptions (of different inputs, so the optimizer cannot merge them) give 192 random
    bits, hashed to 256. rand() and uuid() are seeded PRNGs and must not make keys. Wrapped at once with
    the master key: the plaintext data key is never stored.
-#}
{% macro new_data_key(seed_column) -%}
    unhex(sha2(concat(
        substring(aes_encrypt(concat({{ seed_column }}, ':a'), {{ master_key() }}, 'GCM'), 1, 12),
        substring(aes_encrypt(concat({{ seed_column }}, ':b'), {{ master_key() }}, 'GCM'), 1, 12)
    ), 256))
{%- endmacro %}
