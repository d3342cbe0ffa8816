"""Sources as configuration: one YAML file per source, loaded and validated at start.

Structural checks (keys, types, allowed values) are pure Python; what needs Spark (a DDL schema, the
transform SQL, UDF imports) is checked by `ingest.prepare`. Every error names the file, the key and
what is wrong, and all errors of all files are reported together.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sessionlake.core.errors import ConfigurationError
from sessionlake.core.settings import expand_env_refs

SOURCES_DIR = Path(__file__).resolve().parent / "sources"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_TRIGGER = re.compile(r"^\d+(\.\d+)?\s*(milliseconds?|ms|seconds?|s|minutes?|min|hours?|h)$")
DEFAULT_MAX_RECORD_BYTES = 1024 * 1024


class SourceConfigError(ConfigurationError):
    """One or more problems in source configuration files; each line names file, key and problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid ingest configuration:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class KafkaOptions:
    topics: tuple[str, ...] = ()
    topic_pattern: str | None = None
    starting_offsets: str = "earliest"
    starting_offsets_by_timestamp: str | None = None  # JSON, Spark's format
    max_offsets_per_trigger: int | None = None
    min_offsets_per_trigger: int | None = None
    max_trigger_delay: str | None = None
    fail_on_data_loss: bool = True
    include_headers: bool = True
    extra: Mapping[str, str] = field(default_factory=dict)  # more Spark Kafka source / kafka.* options


@dataclass(frozen=True)
class S3SqsOptions:
    queue: str
    bucket: str | None = None
    max_files_per_trigger: int | None = None
    # What `sessionlake provision` sets up (ingest/readers/s3_sqs/provision.py): an SNS topic between the
    # bucket and the queue (None: S3 notifies the queue directly), the notification's key filters, and
    # the receives before a message goes to the dead-letter queue.
    sns_topic: str | None = None
    prefix: str = ""
    suffix: str = ""
    max_receive_count: int = 5
    extra: Mapping[str, str] = field(default_factory=dict)  # further s3-sqs source options


@dataclass(frozen=True)
class UdfConfig:
    name: str
    function: str  # "package.module:attribute"
    return_type: str  # Spark DDL type


@dataclass(frozen=True)
class TargetConfig:
    table: str
    where: str | None = None  # Spark SQL predicate over the transformed batch; None takes every row
    columns: tuple[str, ...] | None = None  # payload columns to keep; None keeps all


@dataclass(frozen=True)
class SourceConfig:
    name: str
    kind: str
    file: Path
    schema_ddl: str | None
    json_schema: Mapping[str, Any] | None
    targets: tuple[TargetConfig, ...]
    kafka: KafkaOptions | None = None
    s3_sqs: S3SqsOptions | None = None
    required: tuple[str, ...] = ()
    accepted_values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    max_lengths: Mapping[str, int] = field(default_factory=dict)
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    event_time: str | None = None
    pii: tuple[str, ...] = ()
    transform: str | None = None
    udfs: tuple[UdfConfig, ...] = ()
    trigger: str = "30 seconds"

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(t.table for t in self.targets)


class _Checker:
    """Collects problems for one file while reading typed values out of its mapping."""

    def __init__(self, file: Path, problems: list[str]) -> None:
        self.file = file
        self.problems = problems

    def error(self, key: str, message: str) -> None:
        self.problems.append(f"{self.file}: {key}: {message}")

    def get(
        self, data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], path: str, default: Any = None
    ) -> Any:
        value = data.get(key, default)
        if value is None or value is default:
            return value
        # bool is an int in Python; do not accept true where a number is wanted.
        wrong_bool = isinstance(value, bool) and kind in (int, float)
        if wrong_bool or not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            self.error(path, f"expected {names}, got {type(value).__name__} {value!r}")
            return default
        return value

    def unknown_keys(self, data: Mapping[str, Any], allowed: set[str], path: str = "") -> None:
        for key in sorted(set(data) - allowed):
            where = f"{path}.{key}" if path else str(key)
            self.error(where, f"unknown key; allowed: {', '.join(sorted(allowed))}")

    def positive(self, data: Mapping[str, Any], key: str, path: str) -> int | None:
        value = self.get(data, key, int, path)
        if value is not None and value <= 0:
            self.error(path, f"must be a positive integer, got {value}")
            return None
        return value

    def str_list(self, data: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
        value = data.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(path, f"expected a list of strings, got {value!r}")
            return ()
        return tuple(value)


_TOP_KEYS = {
    "name",
    "kind",
    "kafka",
    "s3_sqs",
    "schema",
    "required",
    "accepted_values",
    "max_lengths",
    "max_record_bytes",
    "event_time",
    "pii",
    "transform",
    "udfs",
    "targets",
    "trigger",
}
_KAFKA_KEYS = {
    "topics",
    "topic_pattern",
    "starting_offsets",
    "starting_offsets_by_timestamp",
    "max_offsets_per_trigger",
    "min_offsets_per_trigger",
    "max_trigger_delay",
    "fail_on_data_loss",
    "include_headers",
    "options",
}
_S3_KEYS = {"queue", "bucket", "max_files_per_trigger", "options", "sns_topic", "prefix", "suffix", "max_receive_count"}
_TARGET_KEYS = {"table", "where", "columns"}
_UDF_KEYS = {"name", "function", "return_type"}


def _options(chk: _Checker, data: Mapping[str, Any], path: str) -> dict[str, str]:
    raw = chk.get(data, "options", dict, path, {}) or {}
    out = {}
    for key, value in raw.items():
        if not isinstance(value, (str, int, float, bool)):
            chk.error(f"{path}.{key}", f"expected a scalar option value, got {value!r}")
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        try:
            out[str(key)] = expand_env_refs(text)
        except KeyError as exc:
            chk.error(f"{path}.{key}", f"environment variable {exc.args[0]} is not set")
    return out


def _kafka(chk: _Checker, data: Any) -> KafkaOptions | None:
    if not isinstance(data, dict):
        chk.error("kafka", "kind kafka needs a `kafka:` mapping with at least `topics`")
        return None
    chk.unknown_keys(data, _KAFKA_KEYS, "kafka")
    topics = chk.str_list(data, "topics", "kafka.topics")
    pattern = chk.get(data, "topic_pattern", str, "kafka.topic_pattern")
    if bool(topics) == bool(pattern):
        chk.error("kafka.topics", "give exactly one of `topics` (a list) or `topic_pattern`")
    by_ts = data.get("starting_offsets_by_timestamp")
    if by_ts is not None and not isinstance(by_ts, (dict, str)):
        chk.error("kafka.starting_offsets_by_timestamp", "expected a mapping topic -> partition -> epoch ms")
        by_ts = None
    if isinstance(by_ts, dict):
        by_ts = json.dumps(by_ts)
    starting = data.get("starting_offsets", "earliest")
    if isinstance(starting, dict):
        starting = json.dumps(starting)
    elif starting not in ("earliest", "latest"):
        chk.error("kafka.starting_offsets", f"expected earliest, latest or a mapping, got {starting!r}")
        starting = "earliest"
    max_offsets = chk.positive(data, "max_offsets_per_trigger", "kafka.max_offsets_per_trigger")
    min_offsets = chk.positive(data, "min_offsets_per_trigger", "kafka.min_offsets_per_trigger")
    if max_offsets and min_offsets and min_offsets > max_offsets:
        chk.error("kafka.min_offsets_per_trigger", "must not exceed max_offsets_per_trigger")
    delay = chk.get(data, "max_trigger_delay", str, "kafka.max_trigger_delay")
    if delay is not None and not _TRIGGER.match(delay):
        chk.error("kafka.max_trigger_delay", f"expected a duration such as '15 minutes', got {delay!r}")
    extra = _options(chk, data, "kafka.options")
    return KafkaOptions(
        topics=topics,
        topic_pattern=pattern,
        starting_offsets=starting,
        starting_offsets_by_timestamp=by_ts,
        max_offsets_per_trigger=max_offsets,
        min_offsets_per_trigger=min_offsets,
        max_trigger_delay=delay,
        fail_on_data_loss=chk.get(data, "fail_on_data_loss", bool, "kafka.fail_on_data_loss", True),
        include_headers=chk.get(data, "include_headers", bool, "kafka.include_headers", True),
        extra=extra,
    )


def _s3_sqs(chk: _Checker, data: Any) -> S3SqsOptions | None:
    if not isinstance(data, dict) or not data.get("queue"):
        chk.error("s3_sqs.queue", "kind s3-sqs needs an `s3_sqs:` mapping with the SQS `queue` name")
        return None
    chk.unknown_keys(data, _S3_KEYS, "s3_sqs")
    return S3SqsOptions(
        queue=chk.get(data, "queue", str, "s3_sqs.queue"),
        bucket=chk.get(data, "bucket", str, "s3_sqs.bucket"),
        max_files_per_trigger=chk.positive(data, "max_files_per_trigger", "s3_sqs.max_files_per_trigger"),
        extra=_options(chk, data, "s3_sqs.options"),
        sns_topic=chk.get(data, "sns_topic", str, "s3_sqs.sns_topic"),
        prefix=chk.get(data, "prefix", str, "s3_sqs.prefix") or "",
        suffix=chk.get(data, "suffix", str, "s3_sqs.suffix") or "",
        max_receive_count=chk.positive(data, "max_receive_count", "s3_sqs.max_receive_count") or 5,
    )


# kind -> (its options' key in the YAML, the parser of that section); the readers registry
# (ingest.readers.READERS) has one reader for each of these kinds.
SECTIONS = {"kafka": ("kafka", _kafka), "s3-sqs": ("s3_sqs", _s3_sqs)}
KINDS = tuple(SECTIONS)


def _targets(chk: _Checker, data: Any) -> tuple[TargetConfig, ...]:
    if not isinstance(data, list) or not data:
        chk.error("targets", "expected a non-empty list of {table, where?, columns?}")
        return ()
    out = []
    for i, item in enumerate(data):
        path = f"targets[{i}]"
        if isinstance(item, str):
            item = {"table": item}
        if not isinstance(item, dict):
            chk.error(path, f"expected a mapping or a table name, got {item!r}")
            continue
        chk.unknown_keys(item, _TARGET_KEYS, path)
        table = chk.get(item, "table", str, f"{path}.table")
        if not table or not _NAME.match(table):
            chk.error(f"{path}.table", f"expected a table name like `stream_metrics`, got {table!r}")
            continue
        if table == "quarantine":
            chk.error(f"{path}.table", "`quarantine` is reserved for bad records")
            continue
        columns = chk.str_list(item, "columns", f"{path}.columns") or None
        out.append(TargetConfig(table=table, where=chk.get(item, "where", str, f"{path}.where"), columns=columns))
    names = [t.table for t in out]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        chk.error("targets", f"table {dup!r} is listed more than once")
    return tuple(out)


def _udfs(chk: _Checker, data: Any) -> tuple[UdfConfig, ...]:
    if data is None:
        return ()
    if not isinstance(data, list):
        chk.error("udfs", "expected a list of {name, function, return_type}")
        return ()
    out = []
    for i, item in enumerate(data):
        path = f"udfs[{i}]"
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in _UDF_KEYS):
            chk.error(path, "expected {name, function: 'module:attribute', return_type: '<Spark type>'}")
            continue
        chk.unknown_keys(item, _UDF_KEYS, path)
        if ":" not in item["function"]:
            chk.error(f"{path}.function", f"expected 'package.module:attribute', got {item['function']!r}")
            continue
        out.append(UdfConfig(item["name"], item["function"], item["return_type"]))
    return tuple(out)


def _schema(chk: _Checker, data: Any) -> tuple[str | None, Mapping[str, Any] | None]:
    if isinstance(data, str) and data.strip():
        return data.strip(), None
    if isinstance(data, dict):
        if data.get("type") != "object" or not isinstance(data.get("properties"), dict):
            chk.error("schema", "a JSON schema must have `type: object` and a `properties` mapping")
            return None, None
        return None, data
    chk.error("schema", "expected a Spark DDL string or a JSON schema mapping")
    return None, None


def parse_source(file: Path, data: Any, problems: list[str]) -> SourceConfig | None:
    """One source from one YAML document; appends problems and returns None if it is unusable."""
    chk = _Checker(file, problems)
    if not isinstance(data, dict):
        chk.error("<document>", "expected a mapping of source settings")
        return None
    before = len(problems)
    chk.unknown_keys(data, _TOP_KEYS)
    name = chk.get(data, "name", str, "name", file.stem)
    if not _NAME.match(name or ""):
        chk.error("name", f"expected lower_snake_case, got {name!r}")
    kind = data.get("kind")
    if kind not in KINDS:
        chk.error("kind", f"expected one of {', '.join(KINDS)}, got {kind!r}")
    sections: dict[str, Any] = {}
    for section_kind, (section, parse_section) in SECTIONS.items():
        if section_kind == kind:
            sections[section] = parse_section(chk, data.get(section))
        elif section in data:
            chk.error(section, f"only valid with kind {section_kind}")
    ddl, json_schema = _schema(chk, data.get("schema"))
    accepted: dict[str, tuple[str, ...]] = {}
    for key, values in (chk.get(data, "accepted_values", dict, "accepted_values", {}) or {}).items():
        if not isinstance(values, list) or not values:
            chk.error(f"accepted_values.{key}", f"expected a non-empty list of values, got {values!r}")
            continue
        accepted[str(key)] = tuple(str(v) for v in values)
    lengths: dict[str, int] = {}
    for key, limit in (chk.get(data, "max_lengths", dict, "max_lengths", {}) or {}).items():
        if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
            chk.error(f"max_lengths.{key}", f"expected a positive number of characters, got {limit!r}")
            continue
        lengths[str(key)] = limit
    trigger = chk.get(data, "trigger", str, "trigger", "30 seconds")
    if not _TRIGGER.match(trigger or ""):
        chk.error("trigger", f"expected an interval such as '30 seconds' or '500 ms', got {trigger!r}")
    transform = chk.get(data, "transform", str, "transform")
    targets = _targets(chk, data.get("targets"))
    udfs = _udfs(chk, data.get("udfs"))
    if len(problems) > before:
        return None
    return SourceConfig(
        name=name,
        kind=kind,
        file=file,
        schema_ddl=ddl,
        json_schema=json_schema,
        targets=targets,
        **sections,
        required=chk.str_list(data, "required", "required"),
        accepted_values=accepted,
        max_lengths=lengths,
        max_record_bytes=chk.positive(data, "max_record_bytes", "max_record_bytes") or DEFAULT_MAX_RECORD_BYTES,
        event_time=chk.get(data, "event_time", str, "event_time"),
        pii=chk.str_list(data, "pii", "pii"),
        transform=transform.strip() if transform else None,
        udfs=udfs,
        trigger=trigger,
    )


def load_sources(directory: Path | None = None, names: list[str] | None = None) -> list[SourceConfig]:
    """Every `*.yml` in the directory (default: the shipped `ingest/sources/`), or just the named ones."""
    directory = directory or SOURCES_DIR
    problems: list[str] = []
    sources: list[SourceConfig] = []
    files = sorted(directory.glob("*.yml")) + sorted(directory.glob("*.yaml"))
    if not files:
        raise SourceConfigError([f"{directory}: no source files (*.yml)"])
    for file in files:
        try:
            data = yaml.safe_load(file.read_text())
        except yaml.YAMLError as exc:
            problems.append(f"{file}: <document>: not valid YAML: {exc}")
            continue
        source = parse_source(file, data, problems)
        if source:
            sources.append(source)
    _check_across(sources, problems)
    if names:
        known = {s.name for s in sources}
        problems += [
            f"--source {n}: no such source; configured: {', '.join(sorted(known))}" for n in names if n not in known
        ]
        sources = [s for s in sources if s.name in names]
    if problems:
        raise SourceConfigError(problems)
    return sources


def bronze_tables(directory: Path | None = None) -> list[str]:
    """The bronze tables every configured source writes: what the dbt build reads."""
    return sorted({table for source in load_sources(directory) for table in source.tables})


def _check_across(sources: list[SourceConfig], problems: list[str]) -> None:
    seen: dict[str, Path] = {}
    owners: dict[str, Path] = {}
    for source in sources:
        if source.name in seen:
            problems.append(f"{source.file}: name: source {source.name!r} is already defined in {seen[source.name]}")
        seen[source.name] = source.file
        for table in source.tables:
            if table in owners and owners[table] != source.file:
                problems.append(
                    f"{source.file}: targets: table {table!r} is already written by {owners[table]}; "
                    "one source owns each bronze table"
                )
            owners[table] = source.file
