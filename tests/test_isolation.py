"""Finding the records a transform fails on (ingest.writers.isolation), on Spark."""

from __future__ import annotations

import pytest
from pyspark.errors import PythonException
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from sessionlake.ingest.writers.isolation import (
    DATA_ERRORS,
    RECORD,
    Failure,
    error_summary,
    failed,
    failure_reason,
    find_failures,
    number_records,
)

pytestmark = pytest.mark.stack


def records(spark, values: list[int], partitions: int = 3) -> DataFrame:
    rows = [(f'{{"offset": {i}}}', f'{{"v": {v}}}'.encode(), v) for i, v in enumerate(values)]
    return spark.createDataFrame(rows, "_coordinates string, _raw_bytes binary, v int").repartition(partitions)


def checker(condition: str):
    """An evaluation that fails, as a transform would, on the records matching `condition`."""

    def evaluate(part: DataFrame) -> None:
        part.select(F.when(F.expr(condition), F.raise_error(F.lit("bad value"))).alias("x")).collect()

    return evaluate


def test_numbering_depends_on_the_records_not_their_order_or_partitions(spark) -> None:
    values = list(range(50))
    first = {r["_coordinates"]: r[RECORD] for r in number_records(records(spark, values, 3)).collect()}
    second = {r["_coordinates"]: r[RECORD] for r in number_records(records(spark, values, 7).orderBy("v")).collect()}
    assert first == second and sorted(first.values()) == list(range(1, 51))


def test_single_failing_records_are_found_and_nothing_else(spark) -> None:
    numbered = number_records(records(spark, list(range(200)))).persist()
    failures = find_failures(numbered, 200, checker("v in (7, 150, 151)"), "first error")
    assert [f.records for f in failures] == [1, 1, 1]
    assert all(f.error.startswith("[USER_RAISED_EXCEPTION] bad value") for f in failures)
    bad = numbered.where(failed(failures)).select("v", failure_reason(failures).alias("reason")).collect()
    assert sorted(r["v"] for r in bad) == [7, 150, 151]
    assert {r["reason"] for r in bad} == {f"transform_failed: {failures[0].error}"}
    assert numbered.where(~failed(failures)).count() == 197


def test_when_the_probes_run_out_the_failing_parts_are_kept_whole(spark) -> None:
    numbered = number_records(records(spark, list(range(64)))).persist()
    failures = find_failures(numbered, 64, checker("v >= 0"), "first error", max_probes=6)
    assert sum(f.records for f in failures) == 64  # every record, in parts of equal size
    assert {f.records for f in failures} == {16}
    assert [(f.first, f.last) for f in failures] == [(1, 16), (17, 32), (33, 48), (49, 64)]


def test_an_error_that_does_not_come_back_quarantines_nothing(spark) -> None:
    numbered = number_records(records(spark, list(range(10)))).persist()
    assert find_failures(numbered, 10, lambda part: part.count(), "transient") == []


def test_a_python_udf_error_is_a_data_error_summarised_by_its_exception_line(spark) -> None:
    @F.udf("int")
    def explode(v: int) -> int:
        raise ValueError(f"cannot handle {v}")

    with pytest.raises(PythonException) as error:
        records(spark, [1]).select(explode("v")).collect()
    assert isinstance(error.value, DATA_ERRORS)
    assert error_summary(error.value) == "ValueError: cannot handle 1"
    assert Failure(1, 3, "x").records == 3
