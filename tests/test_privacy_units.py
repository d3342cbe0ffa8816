"""How a Delta commit conflict is recognised, raised or as dbt's text (PySpark builds Delta's exception
types over the JVM, hence the `spark` fixture)."""

from __future__ import annotations

from delta.exceptions import ConcurrentAppendException as BaseConcurrentAppend
from delta.exceptions.captured import ConcurrentAppendException, MetadataChangedException

from sessionlake.privacy.delta import is_conflict, is_conflict_message, with_retries


def test_delta_conflict_types_are_conflicts_raised_or_as_a_cause(spark) -> None:
    conflict = ConcurrentAppendException(desc="[DELTA_CONCURRENT_APPEND] files were added", stackTrace="")
    assert isinstance(conflict, BaseConcurrentAppend)
    assert is_conflict(conflict) and is_conflict(MetadataChangedException(desc="metadata changed", stackTrace=""))
    try:
        try:
            raise conflict
        except ConcurrentAppendException as inner:
            raise RuntimeError("the run failed") from inner
    except RuntimeError as outer:
        assert is_conflict(outer)
    # A class name or a message alone is not a conflict: only Delta's own types are.
    assert not is_conflict(RuntimeError("ConcurrentAppendException: DELTA_CONCURRENT_APPEND"))
    assert not is_conflict(type("ConcurrentThing", (Exception,), {})())


def test_a_conflict_in_dbt_text_is_found_by_its_error_condition() -> None:
    assert is_conflict_message("Database Error [DELTA_CONCURRENT_DELETE_READ] ... retry the operation")
    assert not is_conflict_message("Database Error [TABLE_OR_VIEW_NOT_FOUND] gold.sessions")


def test_conflicts_are_retried_and_other_errors_are_not(spark) -> None:
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConcurrentAppendException(desc="[DELTA_CONCURRENT_APPEND]", stackTrace="")
        return "done"

    assert with_retries(flaky, retries=3, what="test", initial_delay=0.0) == "done" and len(calls) == 3

    def broken() -> None:
        raise ValueError("not a conflict")

    try:
        with_retries(broken, retries=3, what="test", initial_delay=0.0)
    except ValueError:
        pass
    else:
        raise AssertionError("a non-conflict error must not be retried")
