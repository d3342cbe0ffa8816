{#-
    Ids of the sessions with silver rows loaded after `since` (a timestamp expression), over the silver
    models registered in vars.session_metrics.
-#}
{% macro sessions_touched_since(since) -%}
    {%- for entry in var('session_metrics') %}
    select session_id from {{ ref(entry.silver) }} where _loaded_at > {{ since }}
    {%- if not loop.last %}
    union
    {%- endif -%}
    {%- endfor -%}
{%- endmacro %}
