"""`sessionlake_parse_json` (jvm/spark-functions) against what it replaces: `from_json` in PERMISSIVE mode for
the typed fields and the corrupt record, `json_object_keys` for the undeclared keys, over a corpus of
generated records of every shape (nested values, wrong types, broken and truncated text, odd spacing)."""

from __future__ import annotations

import json
import random
import re

import pytest
from pyspark.errors import AnalysisException, IllegalArgumentException
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DoubleType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from sessionlake.ingest.parsing import parse_json

SCHEMA = StructType(
    [
        StructField("event_id", StringType()),
        StructField("n", IntegerType()),
        StructField("big", LongType()),
        StructField("fps", DoubleType()),
        StructField("ok", BooleanType()),
        StructField("at", TimestampType()),
        StructField("meta", StructType([StructField("k", StringType()), StructField("c", IntegerType())])),
        StructField("tags", ArrayType(StringType())),
        StructField("attrs", MapType(StringType(), LongType())),
    ]
)
UNDECLARED = ["x", "Fps", "meta_k", "k", "c", "deep", "é"]  # "k" and "c" are declared, but only nested


def _value(rng: random.Random, depth: int = 0) -> object:
    kinds = ["int", "float", "str", "bool", "null", "time", "big"]
    if depth < 3:
        kinds += ["object", "array"]
    kind = rng.choice(kinds)
    if kind == "object":
        keys = rng.sample(["k", "c", "x", "deep", "n"], rng.randint(0, 4))
        return {key: _value(rng, depth + 1) for key in keys}
    if kind == "array":
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {
        "int": rng.randint(-5, 5),
        "big": rng.randint(2**31, 2**40),
        "float": rng.random() * 100,
        "str": rng.choice(["a", "2x", "", 'q"uote: y', "1.5", "true", "2026-11-22T10:00:00Z"]),
        "bool": rng.random() < 0.5,
        "null": None,
        "time": "2026-11-22T10:00:00Z",
    }[kind]


def _record(rng: random.Random) -> str:
    keys = rng.sample(SCHEMA.fieldNames() + UNDECLARED, rng.randint(0, 8))
    if rng.random() < 0.05 and keys:
        keys.append(keys[0])  # a duplicated key
    separators = rng.choice([(",", ":"), (", ", ": "), (" ,\n", " :\t")])
    body = separators[0].join(
        f"{json.dumps(key)}{separators[1]}{json.dumps(_value(rng), ensure_ascii=rng.random() < 0.5)}" for key in keys
    )
    text = "{" + body + "}"
    roll = rng.random()
    if roll < 0.05:
        return text[: rng.randint(0, len(text))]  # truncated
    if roll < 0.08:
        return f"[{text}]"  # an array of one object
    if roll < 0.10:
        return text + " trailing"
    return text


CORPUS = [_record(random.Random(seed)) for seed in range(600)] + [
    "",
    "  ",
    "null",
    "5",
    '"s"',
    "{broken",
    "{}",
    "{'event_id':'a','x':1}",  # single quotes, which Spark's JSON reader accepts
    '{"event_id":"a","meta":{"k":"v","x":{"y":1}},"x":[{"z":1}]}',
    '{"n":"2x","x":1,"deep":{"a":[1,2]},"event_id":"a"}',  # a type mismatch before the undeclared keys end
    '{"meta":{"c":"2x","x":1},"x":2}',  # a type mismatch inside a declared struct
]


@pytest.fixture(scope="module")
def compared(spark) -> list[dict]:
    with_corrupt = StructType([*SCHEMA.fields, StructField("__json_corrupt", StringType())])
    declared = F.array(*[F.lit(name) for name in SCHEMA.fieldNames()])
    frame = spark.createDataFrame([(text,) for text in CORPUS], "v string")
    rows = frame.select(
        "v",
        F.to_json(parse_json(F.col("v"), SCHEMA)).alias("ours"),
        F.to_json(F.from_json("v", with_corrupt, {"columnNameOfCorruptRecord": "__json_corrupt"})).alias("typed"),
        F.size(F.filter(F.json_object_keys("v"), lambda k: ~F.array_contains(declared, k))).alias("undeclared_by_keys"),
        F.json_object_keys("v").isNull().alias("not_an_object"),
    ).collect()
    # As JSON texts: Python's datetime cannot hold every timestamp a number in the corpus makes.
    return [{**r.asDict(), "ours": _loads(r["ours"]), "typed": _loads(r["typed"])} for r in rows]


def _loads(text: str | None) -> dict | None:
    return json.loads(text) if text is not None else None


def test_the_typed_fields_and_the_corrupt_record_are_from_jsons(compared: list[dict]) -> None:
    mismatched = []
    for row in compared:
        ours = {k: v for k, v in row["ours"].items() if k != "__json_undeclared"} if row["ours"] else None
        if ours != row["typed"]:
            mismatched.append((row["v"], ours, row["typed"]))
    assert not mismatched, mismatched[:3]
    # The corpus has good records and every kind of bad one.
    assert sum(r["typed"] is not None and "__json_corrupt" not in r["typed"] for r in compared) > 100
    assert sum(r["typed"] is not None and "__json_corrupt" in r["typed"] for r in compared) > 100


def test_the_undeclared_count_is_that_of_json_object_keys(compared: list[dict]) -> None:
    """Except for the texts Spark's JSON reader accepts and json_object_keys does not (single quotes):
    there the count follows the reader that typed the record."""
    mismatched = []
    for row in compared:
        ours = row["ours"].get("__json_undeclared") if row["ours"] is not None else None
        by_keys = None if row["not_an_object"] else row["undeclared_by_keys"]
        if ours != by_keys and not row["v"].startswith("{'"):
            mismatched.append((row["v"], ours, by_keys))
    assert not mismatched, mismatched[:3]
    counts = [r["ours"].get("__json_undeclared") for r in compared if r["ours"] is not None]
    assert counts.count(None) > 20 and counts.count(0) > 50 and sum(1 for c in counts if c and c > 1) > 50


def test_single_quoted_objects_are_read_as_spark_reads_them(compared: list[dict]) -> None:
    row = next(r for r in compared if r["v"] == "{'event_id':'a','x':1}")
    assert row["ours"]["event_id"] == "a" and "__json_corrupt" not in row["ours"]
    assert row["ours"]["__json_undeclared"] == 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("sessionlake_parse_json(v)", "takes (value, schema)"),
        ("sessionlake_parse_json(v, v)", "takes (value, schema)"),
        ("sessionlake_parse_json(v, '\"string\"')", "the schema must be a struct, not string"),
    ],
)
def test_bad_arguments_are_named(spark, call: str, message: str) -> None:
    frame = spark.createDataFrame([("{}",)], "v string")
    with pytest.raises((AnalysisException, IllegalArgumentException)) as raised:
        frame.selectExpr(call).collect()
    assert message in str(raised.value)


def _rescans(spark) -> int:
    return spark._jvm.org.apache.spark.sql.sessionlake.functions.ParseJsonRecord.rescans()  # noqa: SLF001 - py4j gives the AtomicLong as a number


def test_a_clean_record_is_read_once(spark) -> None:
    """Keys are counted while the record is typed; only a record that did not parse cleanly is read again."""
    clean = [
        '{"event_id":"a","x":{"deep":[1,{"e":2}]},"meta":{"k":"v","x":1},"tags":["t"],"c":3}',
        '{"x":[[1],[2]],"attrs":{"a":1},"y":"s","meta":{"c":1}}',
        '{"event_id":"a"}',
    ]
    frame = spark.createDataFrame([(t,) for t in clean], "v string").repartition(1)
    before = _rescans(spark)
    counts = [r[0] for r in frame.select(parse_json(F.col("v"), SCHEMA)["__json_undeclared"]).collect()]
    assert sorted(counts) == [0, 2, 2]
    assert _rescans(spark) == before
    frame = spark.createDataFrame([('{"n":"2x","x":1}',)], "v string")
    assert frame.select(parse_json(F.col("v"), SCHEMA)["__json_undeclared"]).first()[0] == 1
    assert _rescans(spark) == before + 1


def test_malformed_utf8_is_read_as_from_json_reads_it(spark) -> None:
    """The record is parsed from its bytes; malformed UTF-8, which from_json's character reader replaces
    with U+FFFD, sends it back to that reader, so the result is from_json's either way."""
    records = [
        b'{"event_id":"a\xff b","n":1}',  # an invalid byte in a declared value
        b'{"event_id":"a","x\xc3":1}',  # a truncated two-byte sequence in an undeclared key
        b'{"event_id":"\xed\xa0\x80","n":"2x"}',  # an encoded surrogate, and a type mismatch
        '{"event_id":"été 日 🎮","n":2}'.encode(),  # valid multi-byte text
        b'\xef\xbb\xbf{"event_id":"a"}',  # a byte-order mark
        '{"event_id":"a"}'.encode("utf-16-le"),  # zero bytes, which Jackson would take for UTF-16
    ]
    with_corrupt = StructType([*SCHEMA.fields, StructField("__json_corrupt", StringType())])
    frame = spark.createDataFrame([(r,) for r in records], "b binary").select(F.col("b").cast("string").alias("v"))
    rows = frame.select(
        F.to_json(parse_json(F.col("v"), SCHEMA).dropFields("__json_undeclared")).alias("ours"),
        F.to_json(F.from_json("v", with_corrupt, {"columnNameOfCorruptRecord": "__json_corrupt"})).alias("typed"),
    ).collect()
    assert [r["ours"] for r in rows] == [r["typed"] for r in rows]
    assert json.loads(rows[0]["ours"])["event_id"] == "a\ufffd b"
    assert json.loads(rows[3]["ours"])["event_id"] == "été 日 🎮"


def test_undeclared_fields_are_kept_as_received(spark, compared: list[dict]) -> None:
    undeclared = F.call_function("sessionlake_undeclared_json", F.col("v"), F.lit(SCHEMA.json()))
    frame = spark.createDataFrame([(text,) for text in CORPUS], "v string")
    rows = frame.select("v", undeclared.alias("u")).collect()
    by_text = {r["v"]: r["u"] for r in rows}
    checked = 0
    for row in compared:
        if row["typed"] is None or "__json_corrupt" in row["typed"] or row["v"].endswith("trailing"):
            continue
        if row["v"].startswith("{'"):  # single quotes: read as Spark reads them, written as strict JSON
            assert json.loads(by_text[row["v"]]) == {"x": 1}
            continue
        fields = [(k, v) for k, v in json.loads(row["v"], object_pairs_hook=list) if k not in SCHEMA.fieldNames()]
        rescued = by_text[row["v"]]
        assert (json.loads(rescued, object_pairs_hook=list) if rescued else []) == fields, row["v"]
        checked += 1
    assert checked > 100
    text = '{"event_id":"a", "x" : 1.50 ,"y":{"z" : [1, 2e3]},\t"big":12345678901234567890123}'
    exact = spark.createDataFrame([(text,)], "v string").select(undeclared).first()[0]
    assert exact.startswith('{"x":1.50,"y":{"z":[1,')  # the digits as written, not 1.5
    assert json.loads(exact) == {"x": 1.5, "y": {"z": [1, 2000.0]}}


def test_an_expression_evaluated_apart_gives_what_it_gives_in_generated_code(spark) -> None:
    frame = spark.createDataFrame(
        [(1, 2**40, 1.5, True, "a", None), (None, None, None, None, None, "x")],
        "i int, l long, d double, b boolean, s string, n string",
    )
    expressions = [
        "i + 1",
        "l * 2",
        "d / 2",
        "not b",
        "concat(s, coalesce(n, '-'))",
        "named_struct('i', i, 's', s)",
        "case when i is null then n end",
        "array(i, i)",
    ]
    plain = frame.selectExpr(*expressions).collect()
    spark.conf.set("spark.sql.codegen.fallback", "false")  # generated code that does not compile fails
    try:
        apart = frame.selectExpr(*[f"sessionlake_eval_apart({e})" for e in expressions]).collect()
    finally:
        spark.conf.unset("spark.sql.codegen.fallback")
    assert [tuple(r) for r in apart] == [tuple(r) for r in plain]
    assert plain[0][0] == 2 and plain[1][6] == "x"


def test_an_expression_evaluated_apart_is_hidden_from_the_optimizer(spark) -> None:
    """Only its inputs are left for the optimizer (which a streaming query runs on every micro-batch)."""
    frame = spark.createDataFrame([(1, "a")], "i int, s string").selectExpr(
        "sessionlake_eval_apart(case when i > 0 then concat(s, cast(i + (1 + 2) as string)) end) as e"
    )
    optimized = frame._jdf.queryExecution().optimizedPlan().toString()  # noqa: SLF001
    # Inputs bound by position, and `1 + 2` left as it is: the optimizer never saw the body (it folds
    # constants in every expression it sees).
    # Its inputs come in the order of Spark's AttributeSet, which may differ from run to run.
    assert re.search(r"sessionlake_eval_apart\([is]#\d+, [is]#\d+, CASE", optimized), optimized
    assert re.search(r"\(input\[[01], int, true\] \+ \(1 \+ 2\)\)", optimized), optimized
    assert frame.first()["e"] == "a4"
