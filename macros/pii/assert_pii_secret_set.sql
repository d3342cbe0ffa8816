{#-
    on-run-start guard, and the first step of every operation that hashes: refuse to run when
    spark.sessionlake.pii.hashkey is unset or shorter than 16 characters (`sessionlake_pseudonymize`
    fails to analyse, naming the setting). Only a hash of the empty string leaves Spark.
-#}
{% macro assert_pii_secret_set() -%}
    {%- if introspective() -%}
        {%- do run_query("select " ~ pseudonymize("''") ~ " as probe") -%}
    {%- endif -%}
{%- endmacro %}
