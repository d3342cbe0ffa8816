"""Shared fixtures: a private local stack (real Kafka, moto server, search engine, Derby metastore)
on its own ports and home directory, started once per test session, components on demand."""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sessionlake.settings import Ports, Settings

# Tests run on their own port range so that a developer's demo stack can stay up beside them; each
# pytest-xdist worker (gw0, gw1, ...) has its own stack, 1000 ports further up.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
PORT_BASE = int(os.environ.get("SESSIONLAKE_TEST_PORT_BASE", "20000")) + 1000 * _WORKER

# The suite runs on two workers (pyproject.toml: -n 2 --dist loadgroup), one test module per work unit, so
# a module's fixtures are set up once. Modules are handed out in this order, the longest first, so that
# the workers finish together; the others follow in collection order. test_dbt_lint shares the unit of
# test_dbt_build: it runs after the build, when the models' incremental branches render too.
LONGEST_FIRST = (
    "test_end_to_end",
    "test_pii_erasure",
    "test_s3_sqs_source",
    "test_ingest_exactly_once",
    "test_s3_sqs_crash",
    "test_dbt_build",
    "test_export",
    "test_stack",
)
SAME_UNIT = {"test_dbt_lint": "test_dbt_build"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def unit(item: pytest.Item) -> str:
        module = item.path.stem
        return SAME_UNIT.get(module, module)

    def rank(item: pytest.Item) -> int:
        name = unit(item)
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    for item in items:
        item.add_marker(pytest.mark.xdist_group(unit(item)))
    items.sort(key=rank)  # stable: collection order within a unit and among the rest


def _test_settings(home: Path) -> Settings:
    ports = Ports(
        kafka=PORT_BASE + 92,
        kafka_controller=PORT_BASE + 93,
        moto=PORT_BASE + 50,
        search=PORT_BASE + 200,
        derby=PORT_BASE + 27,
    )
    return Settings(home=home, ports=ports)


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SESSIONLAKE_PII_SECRET", secrets.token_hex(32))
    os.environ.setdefault("SESSIONLAKE_PII_MASTER_KEY", secrets.token_hex(32))
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
def metastore(components: _Components, settings: Settings) -> str:
    components.require("metastore")
    return settings.metastore_url


@pytest.fixture(scope="session")
def spark(metastore: str, settings: Settings):
    from sessionlake.spark import get_session

    session = get_session(settings, "sessionlake-tests")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def empty_lake(spark, settings: Settings) -> None:
    """No table and no lake file left by earlier modules, for a module that asserts whole tables: a
    worker's modules share one catalog, and which modules ran before on the worker is not fixed."""
    spark.catalog.clearCache()
    for database in spark.catalog.listDatabases():
        if database.name != "default":
            spark.sql(f"drop database `{database.name}` cascade")
    shutil.rmtree(settings.lake, ignore_errors=True)
