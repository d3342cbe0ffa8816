{#-
    Keyed hash of a PII value (HMAC-SHA-256, hex): the same value gives the same key everywhere, and
    nobody without the secret can recompute it. `sessionlake_pseudonymize` (jvm/spark-functions) reads
    the secret from the session's conf when the query is analysed: it is never part of the SQL text, so
    compiled SQL, plans, dbt's logs and error messages cannot hold it, and a session without it (an
    analyst's) cannot hash. sessionlake.privacy.keys.pseudonymize is the Python twin.
-#}
{% macro pseudonymize(column) -%}
    sessionlake_pseudonymize({{ column }})
{%- endmacro %}
