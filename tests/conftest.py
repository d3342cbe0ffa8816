"""Shared fixtures: a private local stack (real Kafka, moto server, search engine, Derby metastore)
on its own ports and home directory, started once per test session, components on demand."""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sessionlake.core.settings import Ports, Settings

# Tests run on their own port range so that a developer's demo stack can stay up beside them. Under
# pytest-xdist (`make test` runs two workers) each worker has its own stack, 1000 ports further on.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
PORT_BASE = int(os.environ.get("SESSIONLAKE_TEST_PORT_BASE", "20000")) + 1000 * int(_WORKER.removeprefix("gw"))

# The slowest modules, slowest first.
# Workers take whole modules (`--dist loadfile`) in collection order, so starting with these keeps one
# long module from running alone at the end.
SLOWEST_FIRST = (  # seconds per module in the two-worker run of 8 December 2026, stop 32 (pytest --durations)
    "test_end_to_end.py",  # ~840 (cluster, s3a lake, Thrift Server builds, forget with the raw-copy purge)
    "test_pii_erasure.py",  # ~670
    "test_dbt_build.py",  # ~480 (with the Thrift Server full refresh, ~120)
    "test_ingest_exactly_once.py",  # ~300
    "test_s3_sqs_crash.py",  # ~130
    "test_export.py",  # ~115
    "test_index_lifecycle.py",  # ~100 (both engines, OpenSearch started)
    "test_cluster.py",  # ~50
)


# Every stack fixture (kafka, moto, search, metastore, spark) goes through `components`; `spark` also starts
# the JVM. A test that uses neither, directly or through its fixtures, and is not marked `stack` (it starts
# components itself) is in the fast tier: `make test-fast` (`pytest -m fast`) runs those alone.
SLOW_FIXTURES = frozenset({"components", "spark"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if not SLOW_FIXTURES & set(item.fixturenames) and item.get_closest_marker("stack") is None:
            item.add_marker(pytest.mark.fast)

    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return SLOWEST_FIRST.index(name) if name in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=rank)  # stable: tests keep their order within a module


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A test that runs the CLI in-process (`main([...])`) configures the root logger onto the stream
    pytest captured for it; later records in the worker must not go to that closed stream."""
    root = logging.getLogger()
    before = set(root.handlers)
    yield
    for handler in root.handlers[:]:
        if handler not in before and type(handler) is logging.StreamHandler:
            root.removeHandler(handler)


@pytest.fixture(autouse=True)
def _fast_tier_starts_nothing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """In the fast tier a SparkSession or a stack component is a misclassified test: fail it loudly."""
    if request.node.get_closest_marker("fast") is None or "fast" not in (request.config.option.markexpr or ""):
        return
    from pyspark.sql import SparkSession

    from sessionlake.stack import lifecycle

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a fast-tier test started Spark or a stack component: mark it `stack`")

    monkeypatch.setattr(SparkSession.Builder, "getOrCreate", refuse)
    monkeypatch.setattr(lifecycle, "spawn", refuse)


def _test_settings(home: Path) -> Settings:
    ports = Ports(
        kafka=PORT_BASE + 92,
        kafka_controller=PORT_BASE + 93,
        moto=PORT_BASE + 50,
        search=PORT_BASE + 200,
        derby=PORT_BASE + 27,
        thrift=PORT_BASE + 10,
        spark_master=PORT_BASE + 77,
        spark_master_ui=PORT_BASE + 80,
        spark_worker_ui=PORT_BASE + 81,  # worker n: + n - 1
    )
    return Settings(home=home, ports=ports)


@pytest.fixture(scope="session", autouse=True)
def test_environment() -> None:
    """What every test expects in the environment, whichever test runs first: moto's dummy credentials,
    Spark on loopback with this venv's Python, PII keys of the test run's own."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SESSIONLAKE_PII_SECRET", secrets.token_hex(32))
    os.environ.setdefault("SESSIONLAKE_PII_MASTER_KEY", secrets.token_hex(32))


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return _test_settings(tmp_path_factory.mktemp("sessionlake-home"))


class _Components:
    """Starts stack components the first time a test asks for them; stops them all at the end."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started: list[str] = []

    def require(self, name: str) -> None:
        from sessionlake import stack

        if name not in self.started:
            stack.up(self.settings, components=[name])
            self.started.append(name)

    def stop_all(self) -> None:
        from sessionlake import stack

        if self.started:
            stack.down(self.settings, components=list(reversed(self.started)))


@pytest.fixture(scope="session")
def components(settings: Settings) -> Iterator[_Components]:
    comps = _Components(settings)
    yield comps
    comps.stop_all()


@pytest.fixture(scope="session")
def kafka(components: _Components, settings: Settings) -> str:
    components.require("kafka")
    return settings.kafka_bootstrap


@pytest.fixture(scope="session")
def moto(components: _Components, settings: Settings) -> str:
    components.require("moto")
    return settings.aws_endpoint


@pytest.fixture(scope="session")
def search(components: _Components, settings: Settings) -> str:
    components.require("search")
    return settings.search_url


@pytest.fixture(scope="session")
def opensearch(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """An OpenSearch node beside the stack's engine (its own state folder and ports): settings that reach it."""
    from sessionlake import stack
    from sessionlake.core.settings import SearchSettings

    ports = dataclasses.replace(settings.ports, search=PORT_BASE + 220)
    home = tmp_path_factory.mktemp("opensearch-home")
    other = Settings(home=home, ports=ports, search=SearchSettings(engine="opensearch"))
    stack.up(other, components=["search"])
    yield other
    stack.down(other, components=["search"])


@pytest.fixture(scope="session")
def metastore(components: _Components, settings: Settings) -> str:
    components.require("metastore")
    return settings.metastore_url


@pytest.fixture(scope="session")
def spark(metastore: str, settings: Settings):
    from sessionlake.core.spark import get_session

    session = get_session(settings, "sessionlake-tests")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def empty_lake(spark, settings: Settings) -> None:
    """No table and no lake file left by earlier modules, for a module that asserts whole tables (the
    session's modules share one catalog; which ran before depends on the selection and order)."""
    spark.catalog.clearCache()
    for database in spark.catalog.listDatabases():
        if database.name != "default":
            spark.sql(f"drop database `{database.name}` cascade")
    shutil.rmtree(settings.lake, ignore_errors=True)
