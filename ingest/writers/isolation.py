"""The records a source's transform (or a target's `where`) fails on at run time, found by bisection.

A transform is the team's SQL and UDFs over the batch. A runtime error in it (a UDF that raises, a
cast or a division under ANSI mode) fails the whole Spark job, and with it the stream. Instead, the
writer numbers the batch's good records in a fixed order (`number_records`) and evaluates them in
halves down to single records (`find_failures`); what still fails goes to quarantine with
`transform_failed: <error>`, and the rest is written as usual. The order depends only on the records,
so a batch replayed after a crash splits the same way. After `MAX_PROBES` evaluations the parts still
failing are quarantined whole (a transform that fails on every record does not cost one job per record).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce

from pyspark.errors import (
    ArithmeticException,
    ArrayIndexOutOfBoundsException,
    DateTimeException,
    NumberFormatException,
    PythonException,
    SparkRuntimeException,
)
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

# Errors a record's values can cause in a transform: a UDF's own exception, and Spark's runtime data
# errors (DIVIDE_BY_ZERO, CAST_INVALID_INPUT, INVALID_ARRAY_INDEX, raise_error(), ...). Anything else
# (I/O, memory, a lost executor) fails the batch as before: it is retried on restart, never quarantined.
DATA_ERRORS = (
    PythonException,
    ArithmeticException,
    ArrayIndexOutOfBoundsException,
    DateTimeException,
    NumberFormatException,
    SparkRuntimeException,
)
MAX_PROBES = 128
RECORD = "__record_number"
REASON_PREFIX = "transform_failed"
_MAX_ERROR_CHARS = 500


@dataclass(frozen=True, order=True)
class Failure:
    """Records `first`..`last` (numbers from `number_records`, inclusive) fail with `error`."""

    first: int
    last: int
    error: str

    @property
    def records(self) -> int:
        return self.last - self.first + 1


def error_summary(exc: BaseException) -> str:
    """One line naming the error: a UDF's exception line (`ValueError: ...`) or Spark's error message."""
    lines = [line.strip() for line in str(exc).splitlines()]
    if isinstance(exc, PythonException):
        # The Python traceback ends with the exception line; the JVM's stack trace may follow it.
        python_part = lines[: lines.index("JVM stacktrace:")] if "JVM stacktrace:" in lines else lines
        exception_lines = [line for line in python_part if line and not line.startswith(("File ", "^", "~"))]
        summary = exception_lines[-1] if exception_lines else "Python UDF failed"
    else:
        summary = next((line for line in lines if line), type(exc).__name__)
    return summary[:_MAX_ERROR_CHARS]


def number_records(good: DataFrame) -> DataFrame:
    """The batch's good records numbered 1..n in an order that depends only on the records themselves."""
    key = F.xxhash64("_coordinates", "_raw_bytes")
    return good.withColumn(RECORD, F.row_number().over(Window.orderBy(key, "_coordinates", "_raw_bytes")))


def find_failures(
    numbered: DataFrame,
    records: int,
    evaluate: Callable[[DataFrame], None],
    first_error: str,
    max_probes: int = MAX_PROBES,
) -> list[Failure]:
    """The ranges of `numbered` on which `evaluate` (the transform and routes, run to the end) still fails.

    Breadth first: every failing part is halved before any is halved again, so when the probes run out
    the parts quarantined whole are of about the same size. Raises what `evaluate` raises if it is not
    a data error. An empty list means the failure did not come back on any part (a transient error).
    """
    failures: list[Failure] = []
    pending = deque([Failure(1, records, first_error)])
    probes = 0
    while pending:
        failure = pending.popleft()
        if failure.records == 1 or probes + 2 > max_probes:
            failures.append(failure)
            continue
        middle = (failure.first + failure.last) // 2
        for first, last in ((failure.first, middle), (middle + 1, failure.last)):
            probes += 1
            try:
                evaluate(numbered.where(F.col(RECORD).between(first, last)).drop(RECORD))
            except DATA_ERRORS as exc:
                pending.append(Failure(first, last, error_summary(exc)))
    return sorted(failures)


def failed(failures: list[Failure]) -> Column:
    """True for the numbered records inside any of `failures`."""
    return reduce(lambda a, b: a | b, [F.col(RECORD).between(f.first, f.last) for f in failures])


def failure_reason(failures: list[Failure]) -> Column:
    """`transform_failed: <error>` of the failure a numbered record falls in."""
    cases = [(F.col(RECORD).between(f.first, f.last), F.lit(f"{REASON_PREFIX}: {f.error}")) for f in failures]
    reason = F.when(*cases[0])
    for condition, value in cases[1:]:
        reason = reason.when(condition, value)
    return reason
