{#-
    Keyed hash of a PII value: the same value gives the same key everywhere, and nobody without the
    secret can recompute it. The secret reaches SQL only as a Spark conf reference, substituted by
    Spark at execution, so compiled SQL and logs never hold it (sessionlake/transform/pii.py is the
    Python twin).
-#}
{% macro pseudonymize(column) -%}
    sha2(concat('${spark.sessionlake.pii.hashkey}', ':', {{ column }}), 256)
{%- endmacro %}
