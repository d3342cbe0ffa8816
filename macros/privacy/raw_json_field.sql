{#-
    The exact string value of a top-level field of a raw record (erasure of quarantined records): JSON-decoded
    when the record is valid JSON (escaped quotes and backslashes included), else the quoted value after
    "<field>": in the text, else null. An empty value is null: it names nobody.
-#}
{% macro raw_json_field(raw, field) -%}
    nullif(coalesce(
        get_json_object({{ raw }}, '$.{{ field }}'),
        regexp_extract({{ raw }}, '"{{ field }}"[ ]*:[ ]*"([^"]+)"', 1)
    ), '')
{%- endmacro %}
