{#-
    Fails the calling model at once when spark.sessionlake.pii.masterkey is missing or not the hex of
    16, 24 or 32 bytes, even when there is no row to encrypt. Only the key's length leaves Spark.
-#}
{% macro assert_pii_master_key_set() -%}
    {%- if introspective() -%}
        {%- do run_query('select length(' ~ master_key() ~ ') as key_bytes') -%}
    {%- endif -%}
{%- endmacro %}
