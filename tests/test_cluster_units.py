"""The cluster's configuration as pure functions: what an application on a spark:// master ships, the
Thrift Server's conf, and which components `stack up` starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessionlake import stack
from sessionlake.core.settings import Ports, Settings
from sessionlake.core.spark import session_conf
from sessionlake.stack.spark_cluster import ThriftServer, cluster_components


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    jars = tmp_path / "jars"
    for module, name in (("spark", "delta-spark_4.1_2.13-4.3.1.jar"), ("spark", "bundle-2.29.52.jar")):
        (jars / module).mkdir(parents=True, exist_ok=True)
        (jars / module / name).write_bytes(b"")
    for module in ("s3-sqs-source", "spark-functions"):
        (jars / module).mkdir(parents=True, exist_ok=True)
        (jars / module / f"{module}.jar").write_bytes(b"")
    return Settings(home=tmp_path / "home", jars_dir=jars, ports=Ports(spark_master=17177, thrift=10100))


def test_local_mode_keeps_the_jars_on_the_class_path_and_ships_nothing(settings: Settings) -> None:
    conf = session_conf(settings, "app", master="local[2]")
    assert "spark.jars" not in conf and "delta-spark" in conf["spark.executor.extraClassPath"]


def test_the_stack_cluster_gets_the_cache_as_local_uris_another_cluster_as_served_files(settings: Settings) -> None:
    stack_conf = session_conf(settings, "app", master="stack")
    assert stack_conf["spark.master"] == "spark://127.0.0.1:17177"
    jars = stack_conf["spark.jars"].split(",")
    assert len(jars) == 4 and all(j.startswith(f"local:{settings.jars_dir}") for j in jars)
    assert "spark.executor.extraClassPath" not in stack_conf  # executors get the jars from spark.jars
    assert stack_conf["spark.driver.host"] == "127.0.0.1"
    assert (stack_conf["spark.cores.max"], stack_conf["spark.executor.memory"]) == ("2", "1g")
    remote = session_conf(settings, "app", master="spark://spark-master.internal:7077")
    assert all(j.startswith("file:") for j in remote["spark.jars"].split(","))
    assert "spark.driver.host" not in remote and not any("ivy" in k or "packages" in k for k in remote)


def test_the_thrift_server_has_the_session_conf_and_no_secret(settings: Settings, monkeypatch) -> None:
    monkeypatch.setenv("SESSIONLAKE_PII_SECRET", "a-secret-that-is-long-enough")
    conf = ThriftServer().conf(settings)
    assert conf["spark.hadoop.hive.server2.thrift.port"] == "10100"
    assert conf["spark.hadoop.hive.server2.thrift.bind.host"] == "127.0.0.1"
    assert conf["spark.sql.catalog.spark_catalog"] == "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    assert conf["spark.master"] == "local[2]"
    assert not any("a-secret-that-is-long-enough" in v or "pii" in k for k, v in conf.items())


def test_up_starts_the_cluster_once_asked_until_down(settings: Settings, monkeypatch) -> None:
    monkeypatch.setenv("SESSIONLAKE_SPARK_WORKERS", "2")
    settings = Settings(home=settings.home, jars_dir=settings.jars_dir, ports=settings.ports)
    names = [c.name for c in cluster_components(settings)]
    assert names == ["spark-master", "spark-worker-1", "spark-worker-2", "thrift"]
    assert stack.default_names(settings) == list(stack.COMPONENTS)
    assert stack.default_names(settings, cluster=True) == [*stack.COMPONENTS, *names]
    (settings.stack_dir).mkdir(parents=True)
    (settings.stack_dir / "cluster.enabled").touch()  # what `stack up --cluster` leaves
    assert stack.default_names(settings) == [*stack.COMPONENTS, *names]
    stack.down(settings)  # nothing runs: stops nothing, and the cluster is no longer part of the stack
    assert stack.default_names(settings) == list(stack.COMPONENTS)


def test_java_options_reach_every_jvm_sessionlake_starts(settings: Settings, monkeypatch) -> None:
    options = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m"
    monkeypatch.setenv("SESSIONLAKE_JAVA_OPTIONS", options)
    settings = Settings(home=settings.home, jars_dir=settings.jars_dir, ports=settings.ports)
    conf = session_conf(settings, "app", master="stack")
    assert conf["spark.driver.extraJavaOptions"] == conf["spark.executor.extraJavaOptions"] == options
    assert ThriftServer().conf(settings)["spark.driver.extraJavaOptions"] == options
    assert "spark.driver.extraJavaOptions" not in session_conf(Settings(home=settings.home), "app", master="provided")
