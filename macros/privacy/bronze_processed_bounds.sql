{#-
    `sessionlake retention` asks it before deleting old bronze rows: per bronze table that models read, the
    `_ingested_at` before which every row has been processed by each of them (its high-water mark minus
    the ingest lookback), or null when one of them has not been built yet. Rows at or after the bound are
    kept whatever their age: a build outage longer than the retention period loses nothing.
    Logs `bronze_processed_bounds: {"bronze.<table>": "<timestamp>" | null}`.
-#}
{% macro bronze_processed_bounds() -%}
    {%- set bounds = {} -%}
    {%- for source in graph.sources.values() if source.schema == 'bronze' -%}
        {%- set readers = [] -%}
        {%- set missing = [] -%}
        {#- the models that keep a high-water mark of what they read (pii_player_keys follows pii_players) -#}
        {%- for node in graph.nodes.values()
            if node.resource_type == 'model' and source.unique_id in node.depends_on.nodes
            and '_ingested_at' in node.columns -%}
            {%- set relation = adapter.get_relation(node.database, node.schema, node.alias) -%}
            {%- if relation is none -%}
                {%- do missing.append(node.name) -%}
            {%- else -%}
                {%- do readers.append('select max(_ingested_at) as loaded_through from ' ~ relation) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if readers or missing -%}
            {%- set bound = none -%}
            {%- if not missing -%}
                {%- set query -%}
                    select cast(case when count(loaded_through) = count(*)
                        then min(loaded_through) - interval {{ var('ingest_lookback_minutes') }} minutes end as string)
                    from ({{ readers | join(' union all ') }}) as model_marks
                {%- endset -%}
                {%- set bound = run_query(query).columns[0].values()[0] -%}
            {%- endif -%}
            {%- do bounds.update({'bronze.' ~ source.identifier: bound}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ log('bronze_processed_bounds: ' ~ tojson(bounds), info=true) }}
    {{ return(bounds) }}
{%- endmacro %}
