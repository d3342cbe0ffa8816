"""A Spark standalone cluster and Spark's Thrift Server, run from the pyspark distribution's own classes.

The pyspark wheel is a Spark home (its `jars/` and `bin/spark-class`), so the master, the workers and
HiveThriftServer2 need no download: `spark-class` starts the daemons, `spark-submit` the Thrift Server
with the same Delta, metastore and S3A configuration as every sessionlake SparkSession.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import pyspark

from sessionlake.core.settings import Settings
from sessionlake.core.spark import session_conf
from sessionlake.stack.component import Component, Launch, Port
from sessionlake.stack.jvm import java_home
from sessionlake.stack.process import StackError, port_open

THRIFT_SERVER_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"


def spark_home() -> Path:
    home = Path(pyspark.__file__).resolve().parent
    if not (home / "bin" / "spark-class").is_file():
        raise StackError(f"spark: {home} has no bin/spark-class: reinstall pyspark (`make venv`)")
    return home


# What the Spark daemons take from the caller's environment: S3 credentials (s3a's
# EnvironmentVariableCredentialsProvider, in the Thrift Server and in the executors a worker starts) and the
# Python of Python UDFs. Never the PII keys: dbt's session gets those over its own connection.
DAEMON_INHERITS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "PYSPARK_PYTHON",
)


def _daemon_env(settings: Settings, component: str) -> dict[str, str]:
    (settings.stack_dir / "spark-conf").mkdir(parents=True, exist_ok=True)
    return {
        "SPARK_HOME": str(spark_home()),
        "JAVA_HOME": str(java_home(component)),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_DAEMON_MEMORY": settings.cluster.daemon_memory,
        "SPARK_DAEMON_JAVA_OPTS": settings.spark.java_options,
        # No conf dir of the developer's (spark-defaults.conf, log4j2.properties) leaks into the stack.
        "SPARK_CONF_DIR": str(settings.stack_dir / "spark-conf"),
    }


def _json(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (a loopback http URL we built)
            return json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return None


class SparkMaster(Component):
    name = "spark-master"
    start_timeout = 60.0

    def ports(self, settings: Settings) -> list[Port]:
        return [
            Port(settings.ports.spark_master, "Spark master", "SESSIONLAKE_SPARK_MASTER_PORT"),
            Port(settings.ports.spark_master_ui, "Spark master web UI", "SESSIONLAKE_SPARK_MASTER_UI_PORT"),
        ]

    def endpoint(self, settings: Settings) -> str:
        return f"{settings.stack_master_url} (UI http://127.0.0.1:{settings.ports.spark_master_ui})"

    def prepare(self, settings: Settings) -> Launch:
        workdir = self.workdir(settings)
        workdir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(spark_home() / "bin" / "spark-class"),
            "org.apache.spark.deploy.master.Master",
            "--host",
            "127.0.0.1",
            "--port",
            str(settings.ports.spark_master),
            "--webui-port",
            str(settings.ports.spark_master_ui),
        ]
        return Launch(argv=argv, env=_daemon_env(settings, self.name), inherit=DAEMON_INHERITS, cwd=workdir)

    def state(self, settings: Settings) -> dict | None:
        """The master's own view (its UI's /json): status, workers, applications."""
        return _json(f"http://127.0.0.1:{settings.ports.spark_master_ui}/json/")

    def healthy(self, settings: Settings) -> bool:
        state = self.state(settings)
        return bool(state) and state.get("status") == "ALIVE" and port_open(settings.ports.spark_master)

    def provision(self, settings: Settings) -> None:
        """Nothing to create."""


class SparkWorker(Component):
    """Worker `index` (1-based) of the standalone cluster; its web UI on the first worker's port + index - 1."""

    start_timeout = 60.0

    def __init__(self, index: int) -> None:
        self.index = index
        self.name = f"spark-worker-{index}"

    def ui_port(self, settings: Settings) -> int:
        return settings.ports.spark_worker_ui + self.index - 1

    def ports(self, settings: Settings) -> list[Port]:
        return [Port(self.ui_port(settings), f"Spark worker {self.index} web UI", "SESSIONLAKE_SPARK_WORKER_UI_PORT")]

    def endpoint(self, settings: Settings) -> str:
        return f"http://127.0.0.1:{self.ui_port(settings)}"

    def prepare(self, settings: Settings) -> Launch:
        workdir = self.workdir(settings)
        (workdir / "work").mkdir(parents=True, exist_ok=True)
        argv = [
            str(spark_home() / "bin" / "spark-class"),
            "org.apache.spark.deploy.worker.Worker",
            settings.stack_master_url,
            "--host",
            "127.0.0.1",
            "--webui-port",
            str(self.ui_port(settings)),
            "--cores",
            str(settings.cluster.worker_cores),
            "--memory",
            settings.cluster.worker_memory,
            "--work-dir",
            str(workdir / "work"),
        ]
        return Launch(argv=argv, env=_daemon_env(settings, self.name), inherit=DAEMON_INHERITS, cwd=workdir)

    def healthy(self, settings: Settings) -> bool:
        """Registered with the master: the worker's own UI names the master it is connected to."""
        state = _json(f"http://127.0.0.1:{self.ui_port(settings)}/json/")
        master = SparkMaster().state(settings)
        if not state or not master:
            return False
        alive = {w.get("id") for w in master.get("workers", []) if w.get("state") == "ALIVE"}
        return state.get("id") in alive

    def provision(self, settings: Settings) -> None:
        """Nothing to create."""


class ThriftServer(Component):
    """HiveThriftServer2 on the shared metastore: dbt's `thrift` target and analysts' JDBC/ODBC tools."""

    name = "thrift"
    start_timeout = 120.0

    def ports(self, settings: Settings) -> list[Port]:
        return [Port(settings.ports.thrift, "Spark Thrift Server", "SESSIONLAKE_THRIFT_PORT")]

    def endpoint(self, settings: Settings) -> str:
        return f"jdbc:hive2://127.0.0.1:{settings.ports.thrift}/default"

    def conf(self, settings: Settings) -> dict[str, str]:
        """The server's Spark conf: a sessionlake session's, on the Thrift master, listening on loopback.

        No secret is in it: dbt's `thrift` target sends the PII keys as its own session's parameters.
        """
        master = settings.master_url(settings.cluster.thrift_master)
        conf = session_conf(settings, "sessionlake-thrift-server", master=master)
        for key in ("spark.pyspark.python", "spark.pyspark.driver.python", "spark.driver.memory"):
            conf.pop(key, None)
        conf |= {
            "spark.ui.enabled": "false",
            "spark.hadoop.hive.server2.thrift.port": str(settings.ports.thrift),
            "spark.hadoop.hive.server2.thrift.bind.host": "127.0.0.1",
            "spark.hadoop.hive.server2.transport.mode": "binary",
            # One shared session state per connection, as dbt and BI tools expect.
            "spark.sql.hive.thriftServer.singleSession": "false",
        }
        return conf

    def prepare(self, settings: Settings) -> Launch:
        workdir = self.workdir(settings)
        workdir.mkdir(parents=True, exist_ok=True)
        # The conf goes in a file of the server's own (mode 0600), not on a command line `ps` shows.
        properties = workdir / "thrift-server.conf"
        fd = os.open(properties, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.writelines(f"{key} {value}\n" for key, value in sorted(self.conf(settings).items()))
        argv = [
            str(spark_home() / "bin" / "spark-submit"),
            "--class",
            THRIFT_SERVER_CLASS,
            "--name",
            "sessionlake-thrift-server",
            "--driver-memory",
            settings.cluster.thrift_memory,
            "--properties-file",
            str(properties),
            "spark-internal",
        ]
        env = _daemon_env(settings, self.name) | {"HIVE_SERVER2_THRIFT_PORT": str(settings.ports.thrift)}
        env["HIVE_SERVER2_THRIFT_BIND_HOST"] = "127.0.0.1"
        return Launch(argv=argv, env=env, inherit=DAEMON_INHERITS, cwd=workdir)

    def healthy(self, settings: Settings) -> bool:
        return port_open(settings.ports.thrift)

    def provision(self, settings: Settings) -> None:
        """Nothing to create: the server reads the shared metastore."""


def cluster_components(settings: Settings) -> list[Component]:
    """The master, the configured number of workers, then the Thrift Server (which may run on them)."""
    workers = [SparkWorker(i) for i in range(1, settings.cluster.workers + 1)]
    return [SparkMaster(), *workers, ThriftServer()]
