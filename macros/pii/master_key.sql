{#-
    The master key as a binary SQL expression: `sessionlake_master_key()` (jvm/spark-functions) reads
    spark.sessionlake.pii.masterkey (SESSIONLAKE_PII_MASTER_KEY, hex of 16, 24 or 32 bytes) when the
    query is analysed; a missing or malformed key fails the query, never encrypting with nothing. The key
    is never part of the SQL text, a plan or a message.
-#}
{% macro master_key() -%}
    sessionlake_master_key()
{%- endmacro %}
