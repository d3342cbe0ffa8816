"""A source's payload schema as a Spark StructType, from Spark DDL or from a JSON schema.

A JSON schema also carries validation rules: `required`, `enum` (accepted values) and `maxLength`;
they are merged with the source's own `required`, `accepted_values` and `max_lengths` keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from sessionlake.ingest.config import SourceConfig


class SchemaError(ValueError):
    """A schema or rule problem; `key` is the configuration key it is about."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"{key}: {message}")


@dataclass(frozen=True)
class RecordRules:
    """What a good record looks like; anything else goes to quarantine with the rule it broke."""

    schema: StructType
    required: tuple[str, ...] = ()
    accepted_values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    max_lengths: Mapping[str, int] = field(default_factory=dict)
    max_record_bytes: int = 1024 * 1024


def _json_type(node: Mapping[str, Any], path: str) -> DataType:
    kind = node.get("type")
    if isinstance(kind, list):  # ["string", "null"]: nullability is Spark's default
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else None
    fmt = node.get("format")
    if kind == "string":
        return {"date-time": TimestampType(), "date": DateType()}.get(fmt, StringType())
    if kind == "integer":
        return IntegerType() if fmt == "int32" else LongType()
    if kind == "number":
        return DoubleType()
    if kind == "boolean":
        return BooleanType()
    if kind == "array":
        items = node.get("items")
        if not isinstance(items, Mapping):
            raise SchemaError(path, "an array needs an `items` schema")
        return ArrayType(_json_type(items, f"{path}.items"))
    if kind == "object":
        props = node.get("properties")
        if not isinstance(props, Mapping):
            raise SchemaError(path, "an object needs `properties`")
        return StructType([StructField(k, _json_type(v, f"{path}.{k}")) for k, v in props.items()])
    raise SchemaError(path, f"unsupported JSON schema type {node.get('type')!r}")


def from_json_schema(doc: Mapping[str, Any]) -> RecordRules:
    """Top-level properties become columns; `required`, `enum` and `maxLength` become rules."""
    props = doc["properties"]
    fields = []
    accepted: dict[str, tuple[str, ...]] = {}
    lengths: dict[str, int] = {}
    for name, node in props.items():
        if not isinstance(node, Mapping):
            raise SchemaError(f"schema.properties.{name}", "expected a mapping")
        fields.append(StructField(name, _json_type(node, f"schema.properties.{name}")))
        if "enum" in node:
            accepted[name] = tuple(str(v) for v in node["enum"])
        if "maxLength" in node:
            lengths[name] = int(node["maxLength"])
    return RecordRules(
        schema=StructType(fields),
        required=tuple(doc.get("required", ())),
        accepted_values=accepted,
        max_lengths=lengths,
    )


def from_ddl(ddl: str) -> StructType:
    """Parse with Spark's own DDL parser (needs an active SparkSession)."""
    try:
        parsed = DataType.fromDDL(ddl)
    except Exception as exc:  # Spark raises its ParseException family; keep the first line of it
        raise SchemaError("schema", f"not valid Spark DDL: {str(exc).strip().splitlines()[0]}") from exc
    if not isinstance(parsed, StructType):
        raise SchemaError("schema", f"expected `name type` columns, got the single type {parsed.simpleString()}")
    return parsed


def record_rules(source: SourceConfig) -> RecordRules:
    """The source's rules; raises SchemaError naming the key when they contradict the schema."""
    base = from_json_schema(source.json_schema) if source.json_schema else RecordRules(from_ddl(source.schema_ddl))
    names = set(base.schema.fieldNames())
    rules = RecordRules(
        schema=base.schema,
        required=tuple(dict.fromkeys(base.required + source.required)),
        accepted_values={**base.accepted_values, **source.accepted_values},
        max_lengths={**base.max_lengths, **source.max_lengths},
        max_record_bytes=source.max_record_bytes,
    )
    for key, fields in (
        ("required", rules.required),
        ("accepted_values", rules.accepted_values),
        ("max_lengths", rules.max_lengths),
        ("pii", source.pii),
    ):
        for name in fields:
            if name not in names:
                raise SchemaError(key, f"field {name!r} is not in the schema ({', '.join(sorted(names))})")
    for name in rules.accepted_values:
        if not isinstance(base.schema[name].dataType, StringType):
            raise SchemaError("accepted_values", f"field {name!r} must be a string field")
    if source.event_time and source.event_time not in names:
        raise SchemaError("event_time", f"field {source.event_time!r} is not in the schema")
    if source.event_time and not isinstance(base.schema[source.event_time].dataType, TimestampType):
        raise SchemaError("event_time", f"field {source.event_time!r} must be a timestamp")
    clash = [n for n in names if n.startswith("_")]
    if clash:
        raise SchemaError("schema", f"field names starting with '_' are reserved for metadata: {clash}")
    return rules
