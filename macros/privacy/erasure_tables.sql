{#-
    The Delta tables erasure works on: every Delta table of vars.erasure_schemas except the privacy tables
    themselves, in erasure order (gold, silver, bronze, the vault; the player keys last), each as
    {relation, name (schema.table), columns (lower case), source (the dbt source declaring it, if any)}.
    The one declaration of where a player's rows can live: the schemas, plus the source YAML's player id
    columns (player_id_columns).
-#}
{% macro erasure_tables(schemas=var('erasure_schemas')) -%}
    {%- set layers = ['gold', 'silver', 'bronze', 'pii'] -%}
    {%- set skip = privacy_tables().keys() | list -%}
    {%- set tables = [] -%}
    {%- set existing = run_query('show databases').columns[0].values() | map('lower') | list -%}
    {%- for schema in schemas if schema | lower in existing -%}
        {%- for row in run_query('show table extended in ' ~ schema ~ " like '*'")
            if row['isTemporary'] | string | lower != 'true' and 'Provider: delta' in row['information']
            and 'Type: VIEW' not in row['information'] and row['tableName'] | lower not in skip -%}
            {%- set relation = api.Relation.create(schema=schema, identifier=row['tableName'], type='table') -%}
            {%- set source_node = [] -%}
            {%- for node in graph.sources.values()
                if node.schema == schema and node.identifier | lower == relation.identifier | lower -%}
                {%- do source_node.append(node) -%}
            {%- endfor -%}
            {%- set layer = layers.index(schema) if schema in layers else 1 -%}
            {%- do tables.append({
                'relation': relation,
                'name': schema ~ '.' ~ relation.identifier,
                'columns': adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list,
                'source': source_node[0] if source_node else none,
                'order': (layer, 1 if relation.identifier == 'pii_player_keys' else 0, relation.identifier),
            }) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(tables | sort(attribute='order')) }}
{%- endmacro %}
