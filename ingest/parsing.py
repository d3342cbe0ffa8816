"""Payload parsing with Spark's own functions: typed columns, rescued data and quarantine reasons.

A record is parsed once, straight into the declared types (`from_json` in PERMISSIVE mode, which
fills a corrupt-record column when a value does not fit its type), and its top-level keys are listed
with `json_object_keys` (null when the record is not a JSON object). That is all a good record costs.
A record that breaks a rule is looked at again, field by field, from its raw texts (`from_json` with
every field typed string keeps nested values and numbers as their JSON text): each field is cast with
`try_cast` (or `from_json` for nested types), a present value that does not cast is a type mismatch,
and the reason names every rule broken. Undeclared keys send the record's other fields to
`_rescued_data` as a JSON object, keeping their JSON types.

`_reason` is null for a good record; otherwise it starts with one of REASONS, then details.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import AtomicType, BooleanType, DataType, StringType, StructField, StructType

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
_TYPED = "__json_typed"  # the declared fields typed, plus _CORRUPT
_CORRUPT = "__json_corrupt"  # set by from_json when some value does not fit its declared type
_KEYS = "__json_keys"  # the record's top-level keys; null if it is not a JSON object


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


def _texts(rules: RecordRules) -> Column:
    """The declared fields as their JSON texts (parsed on demand: only bad records get here)."""
    return F.from_json(F.col("_value"), StructType([StructField(f.name, StringType()) for f in rules.schema.fields]))


def _field_problems(rules: RecordRules) -> list[tuple[str, list[tuple[Column, str]]]]:
    """Per rule, the (condition, label) of each field that can break it."""
    raw = {f.name: _texts(rules)[f.name] for f in rules.schema.fields}
    return [
        ("missing_required", [(raw[f].isNull(), f) for f in rules.required]),
        (
            "type_mismatch",
            [
                (raw[f.name].isNotNull() & F.col(f.name).isNull(), f"{f.name} ({f.dataType.simpleString()})")
                for f in rules.schema.fields
                if not isinstance(f.dataType, StringType)
            ],
        ),
        (
            "oversized_value",
            [(F.length(raw[f]) > limit, f"{f} (over {limit} characters)") for f, limit in rules.max_lengths.items()],
        ),
        (
            "unknown_value",
            [(F.col(f).isNotNull() & ~F.col(f).isin(*values), f) for f, values in rules.accepted_values.items()],
        ),
    ]


def _field_reasons(rules: RecordRules) -> Column:
    groups = [
        _listed(rule, [F.when(cond, F.lit(label)) for cond, label in checks])
        for rule, checks in _field_problems(rules)
        if checks
    ]
    found = F.array_compact(F.array(*groups)) if groups else F.array().cast("array<string>")
    return F.when(F.size(found) > 0, F.array_join(found, "; "))


def _suspect(rules: RecordRules) -> Column:
    """A cheap test from the typed values that is true for every record breaking a field rule."""
    typed = F.col(_TYPED)
    checks = [typed[_CORRUPT].isNotNull()]
    checks += [typed[f].isNull() for f in rules.required]
    checks += [F.length(typed[f].cast("string")) > limit for f, limit in rules.max_lengths.items()]
    checks += [typed[f].isNotNull() & ~typed[f].isin(*values) for f, values in rules.accepted_values.items()]
    suspect = F.lit(False)
    for check in checks:
        suspect = suspect | F.coalesce(check, F.lit(False))
    return suspect


def reason(rules: RecordRules) -> Column:
    value = F.col("_value")
    return (
        F.when(F.col(_KEYS).isNotNull(), F.when(_suspect(rules), _field_reasons(rules)))
        .when(value.isNull() | (F.trim(value) == ""), F.lit("empty_record"))
        .when(
            F.octet_length(value) > rules.max_record_bytes,
            F.concat(
                F.lit("oversized_record: "),
                F.octet_length(value).cast("string"),
                F.lit(f" bytes, limit {rules.max_record_bytes}"),
            ),
        )
        .otherwise(F.lit("unparsable_json: not a JSON object"))
    )


def rescued_data(rules: RecordRules) -> Column:
    """Undeclared fields as a JSON object (their JSON types kept), or null when there are none.

    A record with as many keys as non-null declared fields has no other key: that cheap test spares
    the exact one (a set difference of key lists) for nearly every record.
    """
    names = rules.schema.fieldNames()
    declared = F.array(*[F.lit(n) for n in names])
    present = sum(F.col(_TYPED)[n].isNotNull().cast("int") for n in names)
    extra = F.array_except(F.col(_KEYS), declared)
    reparsed = F.from_json(F.col("_value"), "map<string,variant>")
    return F.when(
        (F.size(F.col(_KEYS)) > present) & (F.size(extra) > 0),
        F.to_json(F.map_filter(reparsed, lambda k, _v: ~F.array_contains(declared, k))),
    )


def parse(envelope: DataFrame, rules: RecordRules) -> DataFrame:
    """The envelope (`_value`, `_raw_bytes`, `_coordinates`, source metadata) with the payload typed.

    Returns the declared fields, `_rescued_data`, `_raw` (the record as a string), every envelope
    column but `_value`, and `_reason` (null for a good record).
    """
    envelope_cols = [c for c in envelope.columns if c != "_value"]
    value = F.col("_value")
    small = F.octet_length(value) <= rules.max_record_bytes
    with_corrupt = StructType([*rules.schema.fields, StructField(_CORRUPT, StringType())])
    parsed = envelope.select(
        "*",
        F.when(small, F.from_json(value, with_corrupt, {"columnNameOfCorruptRecord": _CORRUPT})).alias(_TYPED),
        F.when(small, F.json_object_keys(value)).alias(_KEYS),
    )
    fits = F.col(_TYPED)[_CORRUPT].isNull()
    typed = parsed.select(
        "*",
        *[
            F.when(fits, F.col(_TYPED)[f.name]).when(small, _typed(_texts(rules)[f.name], f.dataType)).alias(f.name)
            for f in rules.schema.fields
        ],
    )
    bad = typed.select("*", reason(rules).alias(REASON))
    return bad.select(
        *rules.schema.fieldNames(),
        F.when(F.col(REASON).isNull(), rescued_data(rules)).alias("_rescued_data"),
        value.alias("_raw"),
        *envelope_cols,
        REASON,
    )
