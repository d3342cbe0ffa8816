{#-
    Drops rows of `relation_cte` (a CTE name or a parenthesised query) that this silver model already
    holds in the same form (same event id, same _ingested_at): the rows re-read by the safety lookback
    (`window_start`: as in ingested_since_last_load). Correctness comes from the merge on the event id;
    this only spares Delta rewriting files for nothing, so a no-op build changes no row.
-#}
{% macro not_yet_loaded(relation_cte, unique_key, window_start=none) -%}
    {%- if is_incremental() -%}
        {%- if window_start is none -%}
            {%- set window_start = load_window_start() -%}
        {%- endif -%}
        select new_rows.*
        from {{ relation_cte }} as new_rows
        left anti join (
            select
                {{ unique_key }},
                _ingested_at
            from {{ this }}
            where _ingested_at > {{ window_start }}
        ) as loaded
            on new_rows.{{ unique_key }} = loaded.{{ unique_key }}
            and new_rows._ingested_at = loaded._ingested_at
    {%- else -%}
        select * from {{ relation_cte }} as new_rows
    {%- endif -%}
{%- endmacro %}
