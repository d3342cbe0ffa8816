"""Payload parsing on Spark: rescued data however the JSON is spaced, and the reason of every bad shape."""

from __future__ import annotations

import json

import pytest
from pyspark.sql.types import DoubleType, IntegerType, StringType, StructField, StructType

from sessionlake.ingest.parsing import REASON, parse
from sessionlake.ingest.schema import RecordRules

RULES = RecordRules(
    schema=StructType(
        [
            StructField("event_id", StringType()),
            StructField("fps", DoubleType()),
            StructField("n", IntegerType()),
            StructField("meta", StructType([StructField("k", StringType())])),
        ]
    ),
    required=("event_id",),
)
DECLARED = set(RULES.schema.fieldNames())

# JSON objects whose declared values fit, written every way a producer might.
OBJECTS = [
    '{"event_id":"a","fps":1.5,"n":2}',  # compact, declared keys only
    '{"event_id": "a", "fps": 1.5}',  # json.dumps' default separators
    '{"event_id" : "a", "fps" :1.5}',  # blanks before the colon
    '{"event_id"\t:"a","x"\n:1}',  # tab and newline before the colon, an undeclared key
    '{"event_id":"a","x":1}',  # compact, an undeclared key
    '{"event_id":"a","meta":{"k":"v","q":1}}',  # nested keys, none undeclared at the top
    '{"event_id":"a","meta":{"k":"v"},"extra":{"deep":[1,{"e":2}]}}',
    '{"event_id":"say \\"x\\": y","z":true}',  # a string value holding a quote-colon
    '{"event_id":"a","we\\"ird":1}',  # an escaped quote inside an undeclared key
    '{"event_id":"a","fps":null,"late":1}',  # a declared key with a null value and one undeclared
    '{"event_id":"a","fps":null}',  # a declared key with a null value only
    '{"event_id":"a","Fps":2.0}',  # a key differing from a declared one only in case
    '{"event_id":"\u00e9t\u00e9","cl\u00e9":"\u00fc"}',  # non-ASCII key and values
    '{"event_id":"a","empty":{}}',
    '{"event_id":"a","list":[]}',
]


@pytest.fixture(scope="module")
def parsed(spark) -> dict[str, dict]:
    envelope = spark.createDataFrame([(text, i) for i, text in enumerate(OBJECTS)], "_value string, _pos int")
    out = parse(envelope, RULES).collect()
    return {r["_raw"]: r.asDict() for r in out}


def _undeclared(text: str) -> dict:
    return {k: v for k, v in json.loads(text).items() if k not in DECLARED}


@pytest.mark.parametrize("text", OBJECTS)
def test_undeclared_keys_land_in_rescued_data_however_the_json_is_spaced(parsed: dict, text: str) -> None:
    row = parsed[text]
    assert row[REASON] is None
    expected = _undeclared(text)
    assert (json.loads(row["_rescued_data"]) if row["_rescued_data"] else {}) == expected


NOT_GOOD = {
    "[1, 2]": "unparsable_json: not a JSON object",
    "5": "unparsable_json: not a JSON object",
    '"event_id"': "unparsable_json: not a JSON object",
    "null": "unparsable_json: not a JSON object",
    "{broken": "unparsable_json: not a JSON object",
    "  ": "empty_record",
    '{"fps":1}': "missing_required: event_id",
    '{"event_id":"a","fps":"fast"}': "type_mismatch: fps (double)",
    '{"event_id":"a","n":"2x","extra":1}': "type_mismatch: n (int)",
    "{}": "missing_required: event_id",
    '{"event_id":""}': "missing_required: event_id (blank)",  # present, but names nothing
    '{"event_id":"  \\t"}': "missing_required: event_id (blank)",
    '{"event_id":"\\u00a0"}': "missing_required: event_id (blank)",  # a no-break space
}


def test_records_that_are_not_good_objects_get_their_reason(spark) -> None:
    rows = parse(spark.createDataFrame([(t,) for t in NOT_GOOD], "_value string"), RULES).collect()
    assert {r["_raw"]: r[REASON] for r in rows} == NOT_GOOD
    assert all(r["_rescued_data"] is None for r in rows)


def test_parsing_runs_whole_in_generated_code(spark) -> None:
    """One expression Spark cannot generate code for (a lambda, a CodegenFallback) would take its whole
    projection out of whole-stage code generation, and every record would pay for a copy of its row."""
    rules = RecordRules(
        schema=RULES.schema, required=("event_id",), max_lengths={"event_id": 8}, accepted_values={"event_id": ["a"]}
    )
    envelope = spark.createDataFrame([('{"event_id":"a"}', b"x")], "_value string, _raw_bytes binary")
    plan = parse(envelope, rules)._jdf.queryExecution().executedPlan()  # noqa: SLF001
    operators = [line.lstrip(" +-:") for line in plan.toString().splitlines()]
    outside = [op for op in operators if op.startswith("Project") or op.startswith("Filter")]
    assert not outside, outside
    assert sum(op.startswith("*(") for op in operators) >= 4
