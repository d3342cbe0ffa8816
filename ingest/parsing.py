"""Payload parsing with Spark's own functions: typed columns, rescued data and quarantine reasons.

A record is parsed once into a JSON map of raw field texts (`from_json` to `map<string,string>`
keeps nested values and numbers as their JSON text). Each declared field is then cast to its type
with `try_cast` (or `from_json` for nested types): a present value that does not cast is a type
mismatch. Undeclared fields go to `_rescued_data` as a JSON object, keeping their JSON types.

`_reason` is null for a good record; otherwise it starts with one of REASONS, then details.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import AtomicType, BooleanType, DataType, MapType, StringType

from ingest.schema import RecordRules

REASONS = (
    "empty_record",  # no value, or only whitespace
    "oversized_record",  # more bytes than max_record_bytes (not parsed)
    "unparsable_json",  # not a JSON object
    "missing_required",  # a required field absent or null
    "type_mismatch",  # a value present that does not cast to the declared type
    "oversized_value",  # a field longer than its max_lengths
    "unknown_value",  # a value outside the field's accepted_values
    "unrouted",  # a good record that no target's `where` selected
)
REASON = "_reason"
_MAP = "__json_fields"
_RAW_MAP_TYPE = MapType(StringType(), StringType())


def _typed(raw: Column, data_type: DataType) -> Column:
    if isinstance(data_type, StringType):
        return raw
    if isinstance(data_type, BooleanType):  # Spark's cast would also take 'yes', 't' and '1'
        lowered = F.lower(raw)
        return F.when(lowered == "true", F.lit(True)).when(lowered == "false", F.lit(False))
    if isinstance(data_type, AtomicType):
        return raw.try_cast(data_type)
    return F.from_json(raw, data_type)


def _listed(prefix: str, items: list[Column]) -> Column:
    """`prefix: a, b` for the non-null items, or null when there are none."""
    names = F.array_compact(F.array(*items))
    return F.when(F.size(names) > 0, F.concat(F.lit(f"{prefix}: "), F.array_join(names, ", ")))


def _field_reasons(rules: RecordRules) -> Column:
    raw = {f.name: F.col(_MAP)[f.name] for f in rules.schema.fields}
    groups = [
        _listed("missing_required", [F.when(raw[f].isNull(), F.lit(f)) for f in rules.required]),
        _listed(
            "type_mismatch",
            [
                F.when(
                    raw[f.name].isNotNull() & F.col(f.name).isNull(), F.lit(f"{f.name} ({f.dataType.simpleString()})")
                )
                for f in rules.schema.fields
                if not isinstance(f.dataType, StringType)
            ],
        ),
        _listed(
            "oversized_value",
            [
                F.when(F.length(raw[f]) > limit, F.lit(f"{f} (over {limit} characters)"))
                for f, limit in rules.max_lengths.items()
            ],
        ),
        _listed(
            "unknown_value",
            [
                F.when(F.col(f).isNotNull() & ~F.col(f).isin(*values), F.lit(f))
                for f, values in rules.accepted_values.items()
            ],
        ),
    ]
    found = F.array_compact(F.array(*groups))
    return F.when(F.size(found) > 0, F.array_join(found, "; "))


def reason(rules: RecordRules) -> Column:
    value = F.col("_value")
    return (
        F.when(value.isNull() | (F.trim(value) == ""), F.lit("empty_record"))
        .when(
            F.octet_length(value) > rules.max_record_bytes,
            F.concat(
                F.lit("oversized_record: "),
                F.octet_length(value).cast("string"),
                F.lit(f" bytes, limit {rules.max_record_bytes}"),
            ),
        )
        .when(F.col(_MAP).isNull(), F.lit("unparsable_json: not a JSON object"))
        .otherwise(_field_reasons(rules))
    )


def rescued_data(rules: RecordRules) -> Column:
    """Undeclared fields as a JSON object (their JSON types kept), or null when there are none."""
    declared = F.array(*[F.lit(n) for n in rules.schema.fieldNames()])
    extra = F.filter(F.map_keys(F.col(_MAP)), lambda k: ~F.array_contains(declared, k))
    reparsed = F.from_json(F.col("_value"), "map<string,variant>")
    return F.when(
        F.size(extra) > 0,
        F.to_json(F.map_filter(reparsed, lambda k, _v: ~F.array_contains(declared, k))),
    )


def parse(envelope: DataFrame, rules: RecordRules) -> DataFrame:
    """The envelope (`_value`, `_raw_bytes`, `_coordinates`, source metadata) with the payload typed.

    Returns the declared fields, `_rescued_data`, `_raw` (the record as a string), every envelope
    column but `_value`, and `_reason` (null for a good record).
    """
    envelope_cols = [c for c in envelope.columns if c != "_value"]
    value = F.col("_value")
    parsed = envelope.select(
        "*",
        F.when(F.octet_length(value) <= rules.max_record_bytes, F.from_json(value, _RAW_MAP_TYPE)).alias(_MAP),
    )
    typed = parsed.select("*", *[_typed(F.col(_MAP)[f.name], f.dataType).alias(f.name) for f in rules.schema.fields])
    bad = typed.select("*", reason(rules).alias(REASON))
    return bad.select(
        *rules.schema.fieldNames(),
        F.when(F.col(REASON).isNull(), rescued_data(rules)).alias("_rescued_data"),
        value.alias("_raw"),
        *envelope_cols,
        REASON,
    )
