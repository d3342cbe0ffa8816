{#- The relation of a model of this project, by model name (for run-operations). -#}
{% macro model_relation(model_name) -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.name == model_name and node.package_name == project_name -%}
        {%- set relation = adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias) -%}
        {%- if relation is none -%}
            {{ exceptions.raise_compiler_error("model " ~ model_name ~ " has not been built yet") }}
        {%- endif -%}
        {{ return(relation) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error("no model named " ~ model_name) }}
{%- endmacro %}
