{#-
    The silver model's new input from a bronze source, one row per event whose newest version changed
    (docs/dbt.md, "Versions of an event"):
    1. bronze rows in the incremental window (ingested_since_last_load) of players and sessions not
       forgotten (not_forgotten); a null key never reaches silver (ingest quarantines it);
    2. each version (`_version_id`: keyed hash of the payload) counted once, at its first copy in the
       source's version order (version_order): re-deliveries of a version do not move it;
    3. versions this model has loaded before (`_versions_seen`) dropped: an exact re-delivery changes
       and stamps nothing;
    4. per event the newest remaining version, kept only when it is newer than the loaded one, carrying
       the ids of every version seen so far.
    Shared by every stg_<service>__<entity> model; the model renames, types, protects PII and selects
    version_columns().
-#}
{% macro new_bronze_events(source_name, table_name, unique_key='event_id') -%}
    {%- set incremental = is_incremental() -%}
    {%- set window_start = load_window_start() if incremental else none -%}
    {%- set order = version_order(source_name, table_name) -%}
    {%- set loaded = loaded_versions(order, unique_key) if incremental else none -%}
    {%- set payload_json -%}
        to_json(struct(
            {%- for name in payload_columns(source_name, table_name) -%}
            bronze_rows.`{{ name }}`{{ ', ' if not loop.last }}
            {%- endfor -%}
        ))
    {%- endset -%}
    select
        newest.*,
        array_sort(array_union(coalesce(newest.loaded_versions, array()), newest.window_versions)) as _versions_seen
    from (
        select
            unseen.*,
            row_number() over (partition by unseen.{{ unique_key }} order by unseen._version_order desc) as recency,
            collect_set(unseen._version_id) over (partition by unseen.{{ unique_key }}) as window_versions
        from (
            select
                first_copies.*,
                {%- if loaded and loaded.ordered %}
                loaded._version_order as loaded_order,
                {%- endif %}
                {%- if loaded %}
                loaded._versions_seen as loaded_versions
                {%- else %}
                cast(null as array<string>) as loaded_versions
                {%- endif %}
            from (
                select * from (
                    select
                        versioned.*,
                        row_number() over (
                            partition by versioned.{{ unique_key }}, versioned._version_id
                            order by versioned._version_order
                        ) as copy
                    from (
                        select
                            identified.*,
                            named_struct(
                                {%- for field in order %}
                                '{{ field }}', identified.`{{ field }}`{{ ',' if not loop.last }}
                                {%- endfor %}
                            ) as _version_order
                        from (
                            select
                                bronze_rows.*,
                                {{ pseudonymize(payload_json) }} as _version_id
                            from {{ source(source_name, table_name) }} as bronze_rows
                            where
                                bronze_rows.{{ unique_key }} is not null
                                and {{ ingested_since_last_load(window_start=window_start) }}
                                and {{ not_forgotten(source_name, table_name, 'bronze_rows') }}
                        ) as identified
                    ) as versioned
                ) as numbered
                where copy = 1
            ) as first_copies
            {%- if loaded %}
            left join ({{ loaded.query }}) as loaded
                on first_copies.{{ unique_key }} <=> loaded.{{ unique_key }}
            where not array_contains(coalesce(loaded._versions_seen, array()), first_copies._version_id)
            {%- endif %}
        ) as unseen
    ) as newest
    where
        newest.recency = 1
        {%- if loaded and loaded.ordered %}
        and (newest.loaded_order is null or newest._version_order > newest.loaded_order)
        {%- endif %}
{%- endmacro %}
