"""The text of each file a new source needs, in the style of the shipped sources and models."""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sessionlake.scaffold.pii import PiiCandidate
from sessionlake.scaffold.sample import Field, Sample, spark_type

_PLAIN = re.compile(r"^[a-z_][a-z0-9_]*$")
_FLOW_SAFE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
# Spark SQL keywords a column name must be quoted as (ANSI reserved words Spark refuses unquoted).
_RESERVED = frozenset(
    """all and any as asc authorization between both by case cast check collate column constraint create cross
    current_date current_time current_timestamp current_user default desc distinct else end escape except
    false fetch filter for foreign from full grant group having in inner intersect interval into is join
    lateral leading left like limit natural not null of offset on only or order outer overlaps primary
    references right select session_user some table then time to trailing true union unique unknown user
    using when where with""".split()  # noqa: SIM905 (a word list reads better as text)
)
# Documented once in models/docs.md: a column of this name points at its doc block.
DOC_BLOCKS = frozenset({"event_id", "session_id", "event_time", "log_time", "user_key", "email_key", "ip_key"})
BRONZE_METADATA = ("_ingested_at", "_batch_id", "_ingest_date", "_raw")
SILVER_METADATA = {
    "_ingested_at": ["not_null"],
    "_version_id": [],
    "_version_order": [],
    "_versions_seen": [],
    "_loaded_at": ["not_null"],
}


@dataclass(frozen=True)
class KindTemplate(ABC):
    """What a reader kind adds to a new source: its YAML section, where its records come from, the bronze
    column that orders a re-sent event's versions, and a trigger that suits it."""

    version_column: str
    trigger: str

    @abstractmethod
    def section(self, spec: SourceSpec) -> list[str]: ...

    @abstractmethod
    def origin(self, spec: SourceSpec) -> str: ...


class KafkaTemplate(KindTemplate):
    def section(self, spec: SourceSpec) -> list[str]:
        return [
            "kafka:",
            f"  topics: [{quote(spec.location)}]",
            "  starting_offsets: earliest",
            "  max_offsets_per_trigger: 200000",
            "  fail_on_data_loss: true",
            "  include_headers: true",
        ]

    def origin(self, spec: SourceSpec) -> str:
        return f"Kafka topic `{spec.location}`"


class S3SqsTemplate(KindTemplate):
    def section(self, spec: SourceSpec) -> list[str]:
        return ["s3_sqs:", f"  queue: {quote(self.queue(spec))}", f"  bucket: {quote(spec.location)}",
                "  max_files_per_trigger: 1000"]  # fmt: skip

    def origin(self, spec: SourceSpec) -> str:
        return f"S3 bucket `{spec.location}` (announced on SQS `{self.queue(spec)}`)"

    @staticmethod
    def queue(spec: SourceSpec) -> str:
        return spec.queue or f"{spec.location}-events"


# One per reader kind of ingest/config.py's KINDS.
TEMPLATES: dict[str, KindTemplate] = {
    "kafka": KafkaTemplate(version_column="_kafka_timestamp", trigger="30 seconds"),
    "s3-sqs": S3SqsTemplate(version_column="_file_modification_time", trigger="1 minute"),
}


@dataclass(frozen=True)
class SourceSpec:
    """A new source: its name (the bronze table), its service (the dbt source and staging folder), where
    its records come from (`location`: the Kafka topic or the S3 bucket; `queue`: an S3 source's queue,
    default `<bucket>-events`), the sample, and the PII candidates found in it."""

    name: str
    service: str
    kind: str
    sample: Sample
    sample_name: str
    pii: tuple[PiiCandidate, ...]
    location: str = ""
    queue: str | None = None
    session_metrics: bool = False

    @property
    def staging_model(self) -> str:
        return f"stg_{self.service}__{self.name}"

    @property
    def intermediate_model(self) -> str:
        return f"int_{self.service}__session_metrics"

    @property
    def event_time(self) -> str | None:
        stamps = [f.name for f in self.sample.fields if f.is_timestamp]
        preferred = [n for n in stamps if n == "event_time"] + [n for n in stamps if n.endswith(("_time", "_at"))]
        return (preferred or stamps or [None])[0]

    def candidate(self, name: str) -> PiiCandidate | None:
        return next((c for c in self.pii if c.field == name), None)

    @property
    def template(self) -> KindTemplate:
        return TEMPLATES[self.kind]

    @property
    def origin(self) -> str:
        return self.template.origin(self)


def quote(value: str) -> str:
    """A YAML scalar: plain when safe, else double-quoted (JSON strings are YAML)."""
    return (
        value
        if _FLOW_SAFE.fullmatch(value) and value.lower() not in ("true", "false", "null", "yes", "no", "on", "off")
        else json.dumps(value)
    )


def flow(node: Any) -> str:
    """A JSON schema node in YAML flow style: `{type: string, format: date-time}`."""
    if isinstance(node, Mapping):
        return "{" + ", ".join(f"{quote(str(k))}: {flow(v)}" for k, v in node.items()) + "}"
    if isinstance(node, list):
        return "[" + ", ".join(flow(v) for v in node) + "]"
    return quote(str(node)) if isinstance(node, str) else json.dumps(node)


def sql_name(name: str) -> str:
    return name if _PLAIN.fullmatch(name) and name not in _RESERVED else f"`{name}`"


def describe(entry: Field, spec: SourceSpec) -> str:
    if entry.name in DOC_BLOCKS:
        return f"\"{{{{ doc('{entry.name}') }}}}\""
    text = f"`{entry.name}` of the {spec.service} service's events ({spark_type(entry.schema)})."
    if spec.candidate(entry.name):
        text += " PII."
    return quote(text)


def source_yaml(spec: SourceSpec) -> str:
    """ingest/sources/<name>.yml"""
    lines = [
        f"# {spec.service} events from {spec.origin}, written by `sessionlake add-source` from {spec.sample_name}",
        f"# ({spec.sample.records} records). Review the schema, the required fields and the PII list",
        '# (docs/ingest.md, "Adding a source"; docs/contributing.md).',
        f"kind: {spec.kind}",
    ]
    lines += spec.template.section(spec)
    required = [name for name in ("event_id", "session_id") if spec.sample.get(name)]
    lines += ["schema:", "  type: object", f"  required: [{', '.join(required)}]", "  properties:"]
    for entry in spec.sample.fields:
        note = f"  # {'; '.join(entry.notes)}" if entry.notes else ""
        lines.append(f"    {quote(entry.name)}: {flow(entry.schema)}{note}")
    if spec.event_time:
        lines.append(f"event_time: {quote(spec.event_time)}")
    if spec.pii:
        lines.append("# PII candidates, confirm each (docs/pii.md):")
        lines += [f"#   {c.field}: {c.reason}" for c in spec.pii]
        lines.append(f"pii: [{', '.join(quote(c.field) for c in spec.pii)}]")
    lines += [f"trigger: {spec.template.trigger}", "targets:", f"  - table: {spec.name}"]
    return "\n".join(lines) + "\n"


def dbt_sources_yaml(spec: SourceSpec) -> str:
    """models/staging/<service>/_<service>__sources.yml"""
    version_order = spec.template.version_column
    lines = [
        "version: 2",
        "",
        "sources:",
        f"  - name: {spec.service}",
        f"    description: {quote(f'Events of the {spec.service} service, from {spec.origin} (stage 1 bronze).')}",
        "    schema: bronze",
        "    loaded_at_field: _ingested_at",
        "    freshness:",
        "      warn_after: {count: 10, period: minute}",
        "      error_after: {count: 30, period: minute}",
        "    tables:",
        f"      - name: {spec.name}",
        f"        description: {quote(f'One row per received {spec.service} record, append-only, duplicates kept.')}",
        "        config:",
        "          meta:",
        "            # A re-sent event's versions: newest first by this column, then ingest order",
        '            # (docs/dbt.md, "Versions of an event").',
        f"            version_order: [{version_order}]",
        "        columns:",
    ]
    lines += source_columns(spec, spec.sample.fields)
    for column in (version_order, *BRONZE_METADATA):
        lines += [f"          - name: {column}", f"            description: \"{{{{ doc('{column}') }}}}\""]
    return "\n".join(lines) + "\n"


def source_columns(spec: SourceSpec, fields: tuple[Field, ...] | list[Field]) -> list[str]:
    """Column entries of a dbt source table (indented for _<service>__sources.yml)."""
    lines = []
    for entry in fields:
        candidate = spec.candidate(entry.name)
        if candidate:
            lines.append(f"          # PII candidate ({candidate.reason}): confirm, or drop this meta and protect_pii")
        lines += [f"          - name: {quote(entry.name)}", f"            description: {describe(entry, spec)}"]
        if candidate:
            lines.append(f"            meta: {{pii: {flow(candidate.declaration)}}}")
    return lines


def staging_select(spec: SourceSpec, fields: tuple[Field, ...] | list[Field]) -> list[str]:
    """The staging model's select lines for the fields (PII through protect_pii)."""
    lines = []
    for entry in fields:
        if spec.candidate(entry.name):
            lines.append(f"        {{{{ protect_pii('{entry.name}', '{spec.service}', '{spec.name}') }}}},")
        else:
            lines.append(f"        {sql_name(entry.name)},")
    return lines


def staging_sql(spec: SourceSpec) -> str:
    """models/staging/<service>/stg_<service>__<name>.sql"""
    lines = [
        "{{",
        "    config(",
        "        unique_key='event_id',",
        "    )",
        "}}",
        "",
        "with",
        "",
        "new_events as (",
        f"    {{{{ new_bronze_events('{spec.service}', '{spec.name}') }}}}",
        "),",
        "",
        "renamed as (",
        "    select",
        *staging_select(spec, spec.sample.fields),
        "        _ingested_at,",
        "        {{ version_columns() }},",
        "        current_timestamp() as _loaded_at",
        "    from new_events",
        ")",
        "",
        "select * from renamed",
    ]
    return "\n".join(lines) + "\n"


def model_columns(spec: SourceSpec, fields: tuple[Field, ...] | list[Field]) -> list[str]:
    """Column entries of the staging model (indented for _<service>__models.yml)."""
    lines = []
    for entry in fields:
        candidate = spec.candidate(entry.name)
        name = candidate.pseudonym if candidate else entry.name
        if candidate and name in DOC_BLOCKS:
            description = f"\"{{{{ doc('{name}') }}}}\""
        elif candidate:
            description = quote(
                f"Keyed hash of `{entry.name}` (pseudonymous, joinable; the raw value stays in bronze)."
            )
        else:
            description = describe(entry, spec)
        lines += [f"      - name: {quote(name)}", f"        description: {description}"]
        tests = {"event_id": "[not_null, unique]", "session_id": "[not_null]"}.get(entry.name)
        if entry.name == "session_id" and spec.session_metrics:
            lines += [
                "        data_tests:",
                "          - not_null",
                "          - relationships:",
                "              arguments:",
                "                to: ref('sessions')",
                "                field: session_id",
            ]
        elif tests:
            lines.append(f"        data_tests: {tests}")
    return lines


def dbt_models_yaml(spec: SourceSpec) -> str:
    """models/staging/<service>/_<service>__models.yml"""
    lines = [
        "version: 2",
        "",
        "models:",
        f"  - name: {spec.staging_model}",
        "    description: >",
        f"      {spec.service} events from {spec.origin}, typed and deduplicated.",
        "      Incremental merge on event_id; one row per distinct event, PII replaced by pseudonymous keys.",
        "    columns:",
        *model_columns(spec, spec.sample.fields),
    ]
    for column, tests in SILVER_METADATA.items():
        lines += [f"      - name: {column}", f"        description: \"{{{{ doc('{column}') }}}}\""]
        if tests:
            lines.append(f"        data_tests: [{', '.join(tests)}]")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class MetricColumn:
    name: str
    expression: str
    data_type: str
    description: str
    sessions: dict[str, Any] | None = None  # meta.sessions: merge rule, default


def metric_columns(spec: SourceSpec) -> list[MetricColumn]:
    """The session aggregate a new service starts with: its event count, the mean of each numeric field,
    its event-time range and freshness. Edit the SQL and YAML to keep what analysts need."""
    count = f"{spec.service}_events"
    columns = [
        MetricColumn(
            count, "count(*)", "bigint", f"Number of distinct {spec.service} events (0 when none).", {"default": 0}
        ),  # fmt: skip
    ]
    for entry in spec.sample.fields:
        if entry.schema["type"] in ("integer", "number") and not spec.candidate(entry.name):
            columns.append(
                MetricColumn(
                    f"avg_{entry.name}",
                    f"avg({sql_name(entry.name)})",
                    "double",
                    f"Mean `{entry.name}` over the session's {spec.service} events.",
                )  # fmt: skip
            )
    if spec.event_time:
        when = sql_name(spec.event_time)
        columns += [
            MetricColumn("first_event_at", f"min({when})", "timestamp", "{{ doc('first_event_at') }}",
                         {"merge": "min"}),
            MetricColumn("last_event_at", f"max({when})", "timestamp", "{{ doc('last_event_at') }}",
                         {"merge": "max"}),
        ]  # fmt: skip
    columns.append(
        MetricColumn(
            "last_ingested_at", "max(_ingested_at)", "timestamp", "{{ doc('last_ingested_at') }}", {"merge": "max"}
        )  # fmt: skip
    )
    return columns


def intermediate_sql(spec: SourceSpec) -> str:
    """models/intermediate/int_<service>__session_metrics.sql"""
    cte = spec.name
    select = ["        session_id,"] + [f"        {c.expression} as {c.name}," for c in metric_columns(spec)]
    select[-1] = select[-1].rstrip(",")
    lines = [
        "with",
        "",
        f"{cte} as (",
        f"    select * from {{{{ ref('{spec.staging_model}') }}}}",
        "),",
        "",
        "aggregated as (",
        "    select",
        *select,
        f"    from {cte}",
        "    group by session_id",
        ")",
        "",
        "select * from aggregated",
    ]
    return "\n".join(lines) + "\n"


def intermediate_yaml(spec: SourceSpec) -> str:
    """models/intermediate/_int_<service>__models.yml: every column typed, as gold's registry needs."""
    lines = [
        "version: 2",
        "",
        "# gold.sessions gains each column below (its data_type; meta.sessions: how services' values combine,",
        '# docs/dbt.md, "Gold: sessions"). Registered in dbt_project.yml, vars.session_metrics.',
        "",
        "models:",
        f"  - name: {spec.intermediate_model}",
        f"    description: {quote(f'Session-level facts from the {spec.service} service, over distinct events.')}",
        "    columns:",
        "      - name: session_id",
        "        description: \"{{ doc('session_id') }}\"",
        "        data_tests: [not_null, unique]",
    ]
    for column in metric_columns(spec):
        description = f'"{column.description}"' if column.description.startswith("{{") else quote(column.description)
        lines += [f"      - name: {column.name}", f"        description: {description}",
                  f"        data_type: {column.data_type}"]  # fmt: skip
        if column.sessions:
            lines.append(f"        meta: {{sessions: {flow(column.sessions)}}}")
    return "\n".join(lines) + "\n"
