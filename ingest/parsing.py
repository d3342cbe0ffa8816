"""Payload parsing: typed columns, rescued data and quarantine reasons, all in Spark's generated code.

A record is parsed once, straight into the declared types, by `sessionlake_parse_json`
(jvm/spark-functions): Spark's own JSON parser as `from_json` runs it in PERMISSIVE mode, which fills a
corrupt-record column when a value does not fit its type, and which also counts the record's undeclared
top-level keys as it reads them (null when the record is not a JSON object). That is all a good record
costs.
A record that breaks a rule is looked at again, field by field, from its raw texts (parsed with every
field typed string, which keeps nested values and numbers as their JSON text): each field is cast with
`try_cast` (or `sessionlake_parse_json` for nested types), a present value that does not cast is a type
mismatch, and the reason names every rule broken. Undeclared keys send the record's other fields to
`_rescued_data` (`sessionlake_undeclared_json`) as a JSON object, numbers as written.

No expression here is one Spark cannot generate code for (a lambda, a CodegenFallback): any such
expression takes its whole projection out of whole-stage code generation, and every record then pays
for a copy of the row at each projection. The large expressions only bad records run are evaluated
apart (`_apart`), out of the generated code and out of the optimizer.

`_reason` is null for a good record; otherwise it starts with one of REASONS, then details.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import AtomicType, BooleanType, DataType, StringType, StructField, StructType

from sessionlake.ingest.schema import RecordRules

REASONS = (
    "empty_record",  # no value, or only whitespace
    "oversized_record",  # more bytes than max_record_bytes (not parsed)
    "unparsable_json",  # not a JSON object
    "missing_required",  # a required field absent, null, or (a string) empty or only whitespace
    "type_mismatch",  # a value present that does not cast to the declared type
    "oversized_value",  # a field longer than its max_lengths
    "unknown_value",  # a value outside the field's accepted_values
    "unrouted",  # a good record that no target's `where` selected
    "transform_failed",  # the source's transform or a target's `where` raised an error on the record
)
REASON = "_reason"
_TYPED = "__json_typed"  # sessionlake_parse_json's struct: the declared fields typed, _CORRUPT, _UNDECLARED
_CORRUPT = "__json_corrupt"  # set when some value does not fit its declared type, or the text is not JSON
_UNDECLARED = "__json_undeclared"  # how many top-level keys are not declared; null if not a JSON object
_TEXTS = "__json_texts"  # the declared fields as JSON texts, for suspect records only (_texts)


def _typed(raw: Column, data_type: DataType) -> Column:
    if isinstance(data_type, StringType):
        return raw
    if isinstance(data_type, BooleanType):  # Spark's cast would also take 'yes', 't' and '1'
        lowered = F.lower(raw)
        return F.when(lowered == "true", F.lit(True)).when(lowered == "false", F.lit(False))
    if isinstance(data_type, AtomicType):
        return raw.try_cast(data_type)
    wrapped = F.concat(F.lit('{"v":'), raw, F.lit("}"))  # a nested value's text, read as a field
    return parse_json(wrapped, StructType([StructField("v", data_type)]))["v"]


def _listed(prefix: str, items: list[Column]) -> Column:
    """`prefix: a, b` for the non-null items, or null when there are none."""
    names = F.concat_ws(", ", *items)  # skips nulls; no lambda, so the projection stays in generated code
    return F.when(names != "", F.concat(F.lit(f"{prefix}: "), names))


def _texts(rules: RecordRules) -> Column:
    """The declared fields as their JSON texts, for a record suspected of breaking a field rule (null
    for the others): parsed once, into a column of its own, for every field's checks to read."""
    strings = StructType([StructField(f.name, StringType()) for f in rules.schema.fields])
    is_object = F.col(_TYPED)[_UNDECLARED].isNotNull()
    return F.when(is_object & _suspect(rules), parse_json(F.col("_value"), strings))


def _field_problems(rules: RecordRules) -> list[tuple[str, list[tuple[Column, str]]]]:
    """Per rule, the (condition, label) of each field that can break it."""
    raw = {f.name: F.col(_TEXTS)[f.name] for f in rules.schema.fields}
    return [
        ("missing_required", [(raw[f].isNull(), f) for f in rules.required] + _blank_required(rules, raw)),
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


def _blank(value: Column) -> Column:
    """An empty or whitespace-only string: no id at all, though present."""
    return value.rlike(r"^(?U)\s*$")


def _blank_required(rules: RecordRules, raw: dict[str, Column]) -> list[tuple[Column, str]]:
    strings = {f.name for f in rules.schema.fields if isinstance(f.dataType, StringType)}
    return [(_blank(raw[f]), f"{f} (blank)") for f in rules.required if f in strings]


def _field_reasons(rules: RecordRules) -> Column:
    groups = [
        _listed(rule, [F.when(cond, F.lit(label)) for cond, label in checks])
        for rule, checks in _field_problems(rules)
        if checks
    ]
    found = F.concat_ws("; ", *groups) if groups else F.lit("")
    return F.when(found != "", found)


def _suspect(rules: RecordRules) -> Column:
    """A cheap test from the typed values that is true for every record breaking a field rule."""
    typed = F.col(_TYPED)
    checks = [typed[_CORRUPT].isNotNull()]
    checks += [typed[f].isNull() for f in rules.required]
    checks += [_blank(typed[f]) for f in rules.required if isinstance(rules.schema[f].dataType, StringType)]
    checks += [F.length(typed[f].cast("string")) > limit for f, limit in rules.max_lengths.items()]
    checks += [typed[f].isNotNull() & ~typed[f].isin(*values) for f, values in rules.accepted_values.items()]
    suspect = F.lit(False)
    for check in checks:
        suspect = suspect | F.coalesce(check, F.lit(False))
    return suspect


def reason(rules: RecordRules) -> Column:
    value = F.col("_value")
    return (
        F.when(F.col(_TYPED)[_UNDECLARED].isNotNull(), F.when(_suspect(rules), _apart(_field_reasons(rules))))
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
    """Undeclared fields as a JSON object (numbers as written), or null when there are none."""
    undeclared = F.call_function("sessionlake_undeclared_json", F.col("_value"), F.lit(rules.schema.json()))
    return F.when(F.col(_TYPED)[_UNDECLARED] > 0, undeclared)


def _apart(expression: Column) -> Column:
    """`sessionlake_eval_apart`: `expression` interpreted, for the large expressions only bad records
    run. Inline, the optimizer would walk them on every micro-batch, and whole-stage code generation
    would write them into the projection's one Java method, which the JVM does not compile past 8000
    bytes: every record would pay."""
    return F.call_function("sessionlake_eval_apart", expression)


def parse_json(value: Column, schema: StructType) -> Column:
    """`sessionlake_parse_json`: `value` typed by `schema`, with _CORRUPT and _UNDECLARED."""
    return F.call_function("sessionlake_parse_json", value, F.lit(schema.json()))


def parse(envelope: DataFrame, rules: RecordRules) -> DataFrame:
    """The envelope (`_value`, `_raw_bytes`, `_coordinates`, source metadata) with the payload typed.

    Returns the declared fields, `_rescued_data`, `_raw` (the record as a string), every envelope
    column but `_value`, and `_reason` (null for a good record).
    """
    envelope_cols = [c for c in envelope.columns if c != "_value"]
    value = F.col("_value")
    small = F.octet_length(value) <= rules.max_record_bytes
    parsed = envelope.select("*", F.when(small, parse_json(value, rules.schema)).alias(_TYPED))
    parsed = parsed.select("*", _texts(rules).alias(_TEXTS))
    fits = F.col(_TYPED)[_CORRUPT].isNull()
    typed = parsed.select(
        "*",
        *[
            F.when(fits, F.col(_TYPED)[f.name])
            .when(small, _apart(_typed(F.col(_TEXTS)[f.name], f.dataType)))
            .alias(f.name)
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
