{#-
    The master key as a binary SQL expression, read from the Spark conf spark.sessionlake.pii.masterkey
    (SESSIONLAKE_PII_MASTER_KEY, hex of 16, 24 or 32 bytes). A missing or malformed key raises at the
    first row instead of encrypting with nothing: never a silent plaintext or null. The key itself is
    substituted by Spark at execution, so compiled SQL and dbt logs hold only the reference.
-#}
{% macro master_key() -%}
    case
        when length('${spark.sessionlake.pii.masterkey}') in (32, 48, 64)
            and length(unhex('${spark.sessionlake.pii.masterkey}')) * 2 = length('${spark.sessionlake.pii.masterkey}')
            then unhex('${spark.sessionlake.pii.masterkey}')
        else raise_error('spark.sessionlake.pii.masterkey is missing or malformed: set SESSIONLAKE_PII_MASTER_KEY to the hex of 16, 24 or 32 bytes')
    end
{%- endmacro %}
