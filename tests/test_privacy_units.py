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


def test_a_retried_operation_reports_every_delete_its_attempts_committed(monkeypatch, tmp_path) -> None:
    """A conflict after some deletes committed: the retry finds nothing left in those tables, yet the
    report (and so the audit) counts what the first attempt deleted. dbt is replaced by the events a
    run-operation emits; the accounting over them is what is tested."""
    import json
    from types import SimpleNamespace

    from sessionlake.core.settings import Settings
    from sessionlake.privacy import operations

    def event(name: str, msg: str | None = None, exc: str | None = None) -> SimpleNamespace:
        return SimpleNamespace(info=SimpleNamespace(name=name), data=SimpleNamespace(msg=msg, exc=exc))

    last_attempt = {"bronze.session_events": 0, "pii.pii_player_keys": 0, "gold.sessions": 2, "silver.x": 0}
    final = {"rows_deleted": last_attempt, "history_purged": True}
    attempts = [
        [
            event("JinjaLogInfo", msg='rows_deleted: {"table": "bronze.session_events", "rows": 5}'),
            event("JinjaLogInfo", msg='rows_deleted: {"table": "pii.pii_player_keys", "rows": 1}'),
            event("RunningOperationCaughtError", exc="[DELTA_CONCURRENT_APPEND] ConcurrentAppendException"),
        ],
        [
            event("JinjaLogInfo", msg='rows_deleted: {"table": "bronze.session_events", "rows": 0}'),
            event("JinjaLogInfo", msg='rows_deleted: {"table": "pii.pii_player_keys", "rows": 0}'),
            event("JinjaLogInfo", msg='rows_deleted: {"table": "gold.sessions", "rows": 2}'),
            event("JinjaLogInfo", msg=f"forget_player: {json.dumps(final)}"),
        ],
    ]

    def invoke(settings, args, callbacks):
        events = attempts.pop(0)
        for e in events:
            callbacks[0](e)
        failed = events[-1].info.name == "RunningOperationCaughtError"
        return SimpleNamespace(success=not failed, exception=None, result=None)

    class Conf:
        def get(self, key: str, default: str) -> str:
            return default

        def set(self, key: str, value: str) -> None:
            pass

    monkeypatch.setattr(operations, "invoke", invoke)
    monkeypatch.setattr(operations.time, "sleep", lambda seconds: None)
    report = operations.run_operation(Settings(home=tmp_path), SimpleNamespace(conf=Conf()), "forget_player", {}, 3)
    assert report["rows_deleted"] == {
        "bronze.session_events": 5,
        "pii.pii_player_keys": 1,
        "gold.sessions": 2,
        "silver.x": 0,
    }
