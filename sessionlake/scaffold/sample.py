"""A service's sample records (newline-delimited JSON) read into fields with JSON-schema types.

Types are inferred over every record: integers and numbers mix to `number`; ISO-8601 strings with a time
are `date-time`, plain dates `date`; anything else that disagrees is a `string` (ingest keeps such values
as they are sent, and quarantines what does not cast), and the field says so in `notes`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sessionlake.core.errors import InputError

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
EXAMPLES = 3  # values kept per field, for the generated descriptions
MAX_VALUES = 1000  # distinct values kept per field for the PII scan
MAX_SAMPLE_BYTES = 64 * 1024 * 1024
STRING = {"type": "string"}


class SampleError(InputError):
    """The sample cannot be read as newline-delimited JSON objects; the message names the line."""


@dataclass
class Field:
    """One top-level field of the sample: its JSON schema node and how it appeared."""

    name: str
    schema: dict[str, Any]
    present: int = 0  # records where the field is there and not null
    values: list[str] = field(default_factory=list)  # distinct values seen, the first MAX_VALUES (PII scan)
    seen: set[str] = field(default_factory=set, repr=False)
    notes: list[str] = field(default_factory=list)

    @property
    def examples(self) -> list[str]:
        return self.values[:EXAMPLES]

    @property
    def is_timestamp(self) -> bool:
        return self.schema.get("type") == "string" and self.schema.get("format") == "date-time"


@dataclass(frozen=True)
class Sample:
    records: int
    fields: tuple[Field, ...]

    def get(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


def _value_schema(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        if _DATE_TIME.fullmatch(value) and _parses(value):
            return {"type": "string", "format": "date-time"}
        if _DATE.fullmatch(value) and _parses(value):
            return {"type": "string", "format": "date"}
        return {"type": "string"}
    if isinstance(value, Mapping):
        props = {str(k): _value_schema(v) for k, v in value.items() if v is not None}
        return {"type": "object", "properties": props}
    if isinstance(value, list):
        items = None
        for item in value:
            if item is not None:
                items = _value_schema(item) if items is None else merge(items, _value_schema(item))
        return {"type": "array", "items": items or {"type": "string"}}
    raise TypeError(f"not a JSON value: {value!r}")


def _parses(value: str) -> bool:
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The narrowest JSON schema type both values fit."""
    if a == b:
        return a
    kinds = {a["type"], b["type"]}
    if kinds == {"integer", "number"}:
        return {"type": "number"}
    if kinds == {"object"}:
        props = dict(a["properties"])
        for name, node in b["properties"].items():
            props[name] = merge(props[name], node) if name in props else node
        return {"type": "object", "properties": props}
    if kinds == {"array"}:
        return {"type": "array", "items": merge(a["items"], b["items"])}
    return {"type": "string"}


def read_sample(path: Path) -> Sample:
    """Every record of the file, one JSON object per line (blank lines skipped)."""
    if not path.is_file():
        raise SampleError(f"--sample {path}: no such file")
    if path.stat().st_size > MAX_SAMPLE_BYTES:
        raise SampleError(f"--sample {path}: over {MAX_SAMPLE_BYTES // 2**20} MiB; a few hundred records will do")
    lines = path.read_text(encoding="utf-8", errors="strict").splitlines()
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SampleError(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise SampleError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
        records.append(record)
    if not records:
        raise SampleError(f"{path}: no records (one JSON object per line)")
    return infer(records, str(path))


def infer(records: Iterable[Mapping[str, Any]], origin: str = "sample") -> Sample:
    fields: dict[str, Field] = {}
    count = 0
    for record in records:
        count += 1
        for name, value in record.items():
            if not _NAME.fullmatch(name):
                raise SampleError(f"{origin}: field name {name!r} is not a valid column name (letters, digits, _)")
            if name.startswith("_"):
                raise SampleError(f"{origin}: field name {name!r}: names starting with _ are ingest's metadata columns")
            entry = fields.setdefault(name, Field(name=name, schema={}))
            if value is None:
                continue
            entry.present += 1
            schema = _value_schema(value)
            merged = merge(entry.schema, schema) if entry.schema else schema
            mixed = merged == STRING and entry.schema and {entry.schema["type"], schema["type"]} != {"string"}
            if mixed and not entry.notes:
                entry.notes.append(f"mixed types in the sample ({_label(entry.schema)}, {_label(schema)}): string")
            entry.schema = merged
            text = value if isinstance(value, str) else json.dumps(value)
            if len(entry.values) < MAX_VALUES and text not in entry.seen:
                entry.seen.add(text)
                entry.values.append(text)
    lowered: dict[str, str] = {}
    for name in fields:
        if name.lower() in lowered:
            raise SampleError(f"{origin}: fields {lowered[name.lower()]!r} and {name!r} differ only in case")
        lowered[name.lower()] = name
    for entry in fields.values():
        if not entry.schema:
            entry.schema = {"type": "string"}
            entry.notes.append("always null in the sample: typed string")
    return Sample(records=count, fields=tuple(fields.values()))


def _label(schema: Mapping[str, Any]) -> str:
    return schema.get("format", schema["type"])


def spark_type(schema: Mapping[str, Any]) -> str:
    """The Spark SQL type ingest gives a JSON schema node (ingest/schema.py's mapping)."""
    kind = schema["type"]
    if kind == "string":
        return {"date-time": "timestamp", "date": "date"}.get(schema.get("format", ""), "string")
    if kind == "object":
        inner = ", ".join(f"{k}: {spark_type(v)}" for k, v in schema["properties"].items())
        return f"struct<{inner}>"
    if kind == "array":
        return f"array<{spark_type(schema['items'])}>"
    return {"integer": "bigint", "number": "double", "boolean": "boolean"}[kind]
