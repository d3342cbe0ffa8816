{#-
    on-run-start guard: refuse to build when spark.sessionlake.pii.hashkey is unset (Spark would leave
    the `${...}` reference in the SQL and every pseudonymous key would be an unkeyed hash), redacted by
    Spark (a conf name matching spark.redaction.regex substitutes as "*********(redacted)") or too short.
    Only a boolean leaves Spark; the secret itself is never fetched.
-#}
{% macro assert_pii_secret_set(min_length=16) -%}
    {%- if introspective() -%}
        {%- set check -%}
            select
                '${spark.sessionlake.pii.hashkey}' != concat('$', '{spark.sessionlake.pii.hashkey}')
                and '${spark.sessionlake.pii.hashkey}' not like '%(redacted)%'
                and length('${spark.sessionlake.pii.hashkey}') >= {{ min_length }} as secret_is_set
        {%- endset -%}
        {%- if not run_query(check).columns[0].values()[0] -%}
            {{ exceptions.raise_compiler_error(
                "spark.sessionlake.pii.hashkey is not set (or shorter than " ~ min_length
                ~ " characters): set SESSIONLAKE_PII_SECRET before building") }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
