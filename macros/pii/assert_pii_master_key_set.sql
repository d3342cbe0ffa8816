{#-
    Fails the calling model at once when spark.sessionlake.pii.masterkey is missing or not the hex of
    16, 24 or 32 bytes, even when there is no row to encrypt. Only a boolean leaves Spark.
-#}
{% macro assert_pii_master_key_set() -%}
    {%- if introspective() -%}
        {%- set check -%}
            select
                length('${spark.sessionlake.pii.masterkey}') in (32, 48, 64)
                and length(unhex('${spark.sessionlake.pii.masterkey}')) * 2
                    = length('${spark.sessionlake.pii.masterkey}') as key_is_valid
        {%- endset -%}
        {%- if not run_query(check).columns[0].values()[0] -%}
            {{ exceptions.raise_compiler_error(
                "spark.sessionlake.pii.masterkey is missing or malformed: set SESSIONLAKE_PII_MASTER_KEY"
                ~ " to the hex of 16, 24 or 32 bytes") }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
