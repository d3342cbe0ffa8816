"""Every setting sessionlake reads from the environment, declared once and resolved into typed configuration.

`VARIABLES` is the one list of environment variables; `Settings()` reads them (defaults for the local
stack) and fails with a `ConfigurationError` naming the variable when a value is malformed. No other
module reads the environment for a setting (a test checks it). docs/configuration.md is generated from
`VARIABLES` (`python -m sessionlake.core.settings > docs/configuration.md`; a test keeps them equal).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sessionlake.core import storage
from sessionlake.core.errors import EXIT_CODE_MEANINGS, ConfigurationError

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Variable:
    name: str
    default: str | None  # None: unset unless given
    help: str
    group: str
    secret: bool = False  # never logged, never in a repr, never on a command line


_G_STATE, _G_SPARK, _G_PORTS, _G_ENDPOINTS = "State and jars", "Spark and dbt", "Local stack ports", "Endpoints"
_G_SEARCH, _G_EXPORT, _G_PRIVACY, _G_DEV = "Search engine", "Exporter", "Privacy", "Development and tests"
_G_CLUSTER = "Spark cluster and Thrift Server (local stack)"

_DECLARED = (
    Variable("SESSIONLAKE_HOME", "<repo>/.sessionlake", "state folder: lake, checkpoints, stack, dbt target", _G_STATE),
    Variable(
        "SESSIONLAKE_LAKE_URI",
        "<home>/lake",
        "root of every Delta table (bronze, silver, gold, ops): a folder or a Hadoop URI such as s3a://bucket/lake",
        _G_STATE,
    ),
    Variable(
        "SESSIONLAKE_CHECKPOINT_URI",
        "<home>/checkpoints",
        "streaming checkpoints, s3-sqs discovery logs and the exporter's cursor (may be its own bucket)",
        _G_STATE,
    ),
    Variable("SESSIONLAKE_JARS", "<repo>/.cache/jars", "the jar cache `make jars` fills from Maven Central", _G_STATE),
    Variable(
        "SESSIONLAKE_SPARK_MASTER",
        "local[2]",
        "Spark master URL (`local[N]`, `spark://host:port`, ...); `stack`: the local stack's standalone master; "
        "`provided`: the master and cluster conf of whoever started the driver (spark-submit, a Databricks job)",
        _G_SPARK,
    ),
    Variable("SESSIONLAKE_EXECUTOR_MEMORY", "1g", "spark.executor.memory on a cluster", _G_SPARK),
    Variable("SESSIONLAKE_SPARK_CORES_MAX", "2", "spark.cores.max: cores one application takes of a cluster", _G_SPARK),
    Variable("SESSIONLAKE_SHUFFLE_PARTITIONS", "4", "spark.sql.shuffle.partitions", _G_SPARK),
    Variable("SESSIONLAKE_DRIVER_MEMORY", "3g", "spark.driver.memory", _G_SPARK),
    Variable("SESSIONLAKE_DELTA_SNAPSHOT_PARTITIONS", "4", "tasks Delta reads its log with", _G_SPARK),
    Variable("SESSIONLAKE_SPARK_UI", "false", "start Spark's web UI (true/false)", _G_SPARK),
    Variable("SESSIONLAKE_SPARK_LOG_LEVEL", "WARN", "Spark's log level", _G_SPARK),
    Variable(
        "SESSIONLAKE_JAVA_OPTIONS",
        None,
        "JVM options added to every JVM sessionlake starts: the Spark driver it launches and its executors, the "
        "Thrift Server, and the local stack's Kafka, Derby, Spark master and workers and search engine. "
        "`-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m` (C1 only) spends less than half the CPU on JIT "
        "compilation in a JVM that lives a minute; long-lived drivers run slower with it (bench/README.md, "
        '"JIT"). No GC choice: Kafka and the search engine set their own',
        _G_SPARK,
    ),
    Variable(
        "SESSIONLAKE_DBT_TARGET", "local", "dbt target of profiles/profiles.yml: local, thrift, databricks", _G_SPARK
    ),
    Variable("SESSIONLAKE_THRIFT_HOST", None, "Spark Thrift Server host (dbt `thrift`; default: loopback)", _G_SPARK),
    Variable("SESSIONLAKE_THRIFT_USER", "sessionlake", "Spark Thrift Server user (dbt target `thrift`)", _G_SPARK),
    Variable(
        "SESSIONLAKE_BUILD_STAMP",
        None,
        "set by sessionlake for one build: its Delta commits' stamp for the rows-merged report; not for users",
        _G_SPARK,
    ),
    Variable("DATABRICKS_HOST", None, "workspace host (dbt target `databricks`)", _G_SPARK),
    Variable("DATABRICKS_HTTP_PATH", None, "SQL warehouse or cluster HTTP path (dbt target `databricks`)", _G_SPARK),
    Variable("DATABRICKS_TOKEN", None, "access token (dbt target `databricks`)", _G_SPARK, secret=True),
    Variable(
        "DBT_ACCESS_TOKEN",
        None,
        "injected by a Databricks dbt task; the `databricks` target's token when DATABRICKS_TOKEN is unset",
        _G_SPARK,
        secret=True,
    ),
    Variable(
        "DATABRICKS_CATALOG",
        "hive_metastore",
        "Unity Catalog catalog of the tables (dbt target `databricks`)",
        _G_SPARK,
    ),
    Variable("SESSIONLAKE_KAFKA_PORT", "19092", "local Kafka broker", _G_PORTS),
    Variable("SESSIONLAKE_KAFKA_CONTROLLER_PORT", "19093", "local Kafka KRaft controller", _G_PORTS),
    Variable("SESSIONLAKE_MOTO_PORT", "15000", "local moto server (S3, SQS, SNS)", _G_PORTS),
    Variable("SESSIONLAKE_SEARCH_PORT", "19200", "local Elasticsearch / OpenSearch", _G_PORTS),
    Variable("SESSIONLAKE_DERBY_PORT", "11527", "local Derby network server (the shared metastore)", _G_PORTS),
    Variable("SESSIONLAKE_THRIFT_PORT", "10000", "Spark Thrift Server (HiveServer2: dbt, JDBC, ODBC)", _G_PORTS),
    Variable("SESSIONLAKE_SPARK_MASTER_PORT", "17077", "local Spark standalone master", _G_PORTS),
    Variable("SESSIONLAKE_SPARK_MASTER_UI_PORT", "18080", "its web UI", _G_PORTS),
    Variable("SESSIONLAKE_SPARK_WORKER_UI_PORT", "18081", "web UI of the first worker (worker n: + n - 1)", _G_PORTS),
    Variable("SESSIONLAKE_SPARK_WORKERS", "1", "standalone workers `stack up --cluster` starts", _G_CLUSTER),
    Variable("SESSIONLAKE_SPARK_WORKER_CORES", "4", "cores each worker offers (slots: may exceed CPUs)", _G_CLUSTER),
    Variable("SESSIONLAKE_SPARK_WORKER_MEMORY", "2g", "memory each worker offers its executors", _G_CLUSTER),
    Variable("SESSIONLAKE_SPARK_DAEMON_MEMORY", "512m", "heap of the master and worker processes", _G_CLUSTER),
    Variable("SESSIONLAKE_THRIFT_MEMORY", "1g", "driver heap of the Thrift Server", _G_CLUSTER),
    Variable(
        "SESSIONLAKE_THRIFT_MASTER",
        "local[2]",
        "where the Thrift Server runs its queries: a master URL, or `stack` (the local standalone master)",
        _G_CLUSTER,
    ),
    Variable("SESSIONLAKE_KAFKA_BOOTSTRAP", None, "Kafka bootstrap servers (default: the local broker)", _G_ENDPOINTS),
    Variable("SESSIONLAKE_AWS_ENDPOINT", None, "S3/SQS/SNS endpoint URL (default: the local moto)", _G_ENDPOINTS),
    Variable(
        "SESSIONLAKE_REAL_AWS", "false", "true: AWS's own endpoints when no SESSIONLAKE_AWS_ENDPOINT", _G_ENDPOINTS
    ),
    Variable("AWS_DEFAULT_REGION", "us-east-1", "AWS region of the queues and buckets", _G_ENDPOINTS),
    Variable("AWS_ACCESS_KEY_ID", None, "read by boto3 and s3a (dummy on the local stack)", _G_ENDPOINTS, secret=True),
    Variable("AWS_SECRET_ACCESS_KEY", None, "read by boto3 and s3a (dummy on the local stack)", _G_ENDPOINTS, True),
    Variable("SESSIONLAKE_SEARCH_URL", None, "search engine URL (default: the local engine)", _G_ENDPOINTS),
    Variable("SESSIONLAKE_METASTORE_URL", None, "metastore JDBC URL (default: the local Derby)", _G_ENDPOINTS),
    Variable("SESSIONLAKE_SEARCH_ENGINE", "elasticsearch", "elasticsearch or opensearch", _G_SEARCH),
    Variable("SESSIONLAKE_SEARCH_API_KEY", None, "Elasticsearch API key", _G_SEARCH, secret=True),
    Variable("SESSIONLAKE_SEARCH_USERNAME", None, "basic-auth user (with the password)", _G_SEARCH),
    Variable("SESSIONLAKE_SEARCH_PASSWORD", None, "basic-auth password (with the user)", _G_SEARCH, secret=True),
    Variable("SESSIONLAKE_SEARCH_CA_CERTS", None, "CA bundle to verify the engine's certificate", _G_SEARCH),
    Variable("SESSIONLAKE_SEARCH_VERIFY_CERTS", "true", "verify the engine's certificate (true/false)", _G_SEARCH),
    Variable("SESSIONLAKE_SEARCH_REPLICAS", "0", "replicas of a new index", _G_SEARCH),
    Variable(
        "SESSIONLAKE_SEARCH_POLICY",
        None,
        "name of the hot-warm-cold lifecycle policy (ILM / ISM) new indices get; unset: none (`sessionlake index "
        "policy` creates it)",
        _G_SEARCH,
    ),
    Variable("SESSIONLAKE_SEARCH_ROLLOVER_MAX_AGE", "1d", "the policy rolls the write index over this old", _G_SEARCH),
    Variable(
        "SESSIONLAKE_SEARCH_ROLLOVER_MAX_SIZE", "50gb", "... or when a primary shard reaches this size", _G_SEARCH
    ),
    Variable("SESSIONLAKE_SEARCH_WARM_AFTER", "2d", "an index turns warm this long after its rollover", _G_SEARCH),
    Variable(
        "SESSIONLAKE_SEARCH_COLD_AFTER",
        "30d",
        "... and cold (read-only) this long after it: longer than late data can arrive (docs/exporter.md)",
        _G_SEARCH,
    ),
    Variable("SESSIONLAKE_SEARCH_DELETE_AFTER", None, "... and is deleted this long after it; unset: kept", _G_SEARCH),
    Variable("SESSIONLAKE_EXPORT_TABLE", "gold.sessions", "the table whose changes are exported", _G_EXPORT),
    Variable("SESSIONLAKE_EXPORT_INDEX", "sessions", "the index they go to", _G_EXPORT),
    Variable("SESSIONLAKE_EXPORT_DEAD_LETTER_TABLE", "gold.export_dead_letters", "rejected changes", _G_EXPORT),
    Variable("SESSIONLAKE_EXPORT_MAX_VERSIONS", "100", "table versions per export batch (cursor step)", _G_EXPORT),
    Variable(
        "SESSIONLAKE_EXPORT_BULK_DOCS", "500", "documents per bulk (halved while the engine answers 429)", _G_EXPORT
    ),
    Variable("SESSIONLAKE_EXPORT_BULK_BYTES", "10mb", "largest bulk request body (b, kb, mb)", _G_EXPORT),
    Variable(
        "SESSIONLAKE_EXPORT_BULK_THREADS",
        "2",
        "bulk requests in flight at once (1 while the engine answers 429)",
        _G_EXPORT,
    ),  # fmt: skip
    Variable("SESSIONLAKE_PII_SECRET", None, "key of the keyed hash (16+ characters)", _G_PRIVACY, secret=True),
    Variable("SESSIONLAKE_PII_MASTER_KEY", None, "hex of 16/24/32 bytes; wraps the data keys", _G_PRIVACY, True),
    Variable(
        "SESSIONLAKE_PII_NEXT_MASTER_KEY", None, "the master key `rotate-master-key` re-wraps with", _G_PRIVACY, True
    ),
    Variable("SESSIONLAKE_BRONZE_RETENTION_DAYS", "7", "days of raw bronze `retention` keeps", _G_PRIVACY),
    Variable(
        "SESSIONLAKE_FORGET_PURGE_RAW",
        "true",
        "`forget` also deletes what ingest has committed from the sources' topics and landing buckets",
        _G_PRIVACY,
    ),
    Variable("JAVA_HOME", None, "the JDK the local stack's JVMs run on (default: `java` on PATH)", _G_DEV),
    Variable("SESSIONLAKE_TEST_PORT_BASE", "20000", "first port of the test stacks (worker n: +1000 n)", _G_DEV),
)
VARIABLES: dict[str, Variable] = {v.name: v for v in _DECLARED}
SECRETS = frozenset(v.name for v in _DECLARED if v.secret)
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def env(name: str) -> str | None:
    """A declared variable's value, or its default; an empty value counts as unset."""
    variable = VARIABLES[name]  # KeyError: a setting read without being declared above
    value = os.environ.get(name)
    return (
        value if value else (None if variable.default is None or variable.default.startswith("<") else variable.default)
    )


def env_int(name: str, minimum: int = 0) -> int:
    raw = env(name)
    try:
        value = int(raw or "")
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigurationError(f"{name}={raw!r} must be at least {minimum}")
    return value


_BYTE_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}
_TIME_VALUE = re.compile(r"[0-9]+(d|h|m|s|ms)")


def byte_size(text: str) -> int:
    """Bytes in '10mb', '512kb', '50gb' or a bare number (ValueError when it is none of these)."""
    match = re.fullmatch(r"([0-9]+)(b|kb|mb|gb|tb)?", text.strip().lower())
    if not match:
        raise ValueError(f"{text!r} is not a size such as 10mb")
    return int(match.group(1)) * _BYTE_UNITS[match.group(2) or "b"]


def env_bytes(name: str) -> int:
    raw = env(name) or ""
    try:
        value = byte_size(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a size such as 10mb") from None
    if value < 1:
        raise ConfigurationError(f"{name}={raw!r} must be at least 1 byte")
    return value


def env_time_value(name: str) -> str | None:
    """A search engine time value ('1d', '12h', '30m', '0ms'), as the engines write them; None when unset."""
    raw = env(name)
    if raw is not None and not _TIME_VALUE.fullmatch(raw):
        raise ConfigurationError(f"{name}={raw!r} is not a time value such as 30d, 12h or 90m")
    return raw


def env_size_value(name: str) -> str:
    """A search engine byte size ('50gb'), kept as written."""
    env_bytes(name)
    return env(name) or ""


def env_bool(name: str) -> bool:
    raw = (env(name) or "").lower()
    if raw not in (*_TRUE, *_FALSE):
        raise ConfigurationError(f"{name}={raw!r} is not true or false")
    return raw in _TRUE


def secret(name: str) -> str:
    """A secret's value ('' when unset); callers validate it and never log it."""
    if name not in SECRETS:
        raise KeyError(f"{name} is not a declared secret")
    return os.environ.get(name, "")


def passed_through(names: Iterable[str]) -> dict[str, str]:
    """The variables among `names` set in this process's environment, for a child process that needs them
    (the local stack's components get these and nothing else of the caller's environment)."""
    return {name: os.environ[name] for name in names if name in os.environ}


def secret_values() -> list[str]:
    """The values of every secret setting set in the environment (what no log may print)."""
    return [value for name in SECRETS if (value := os.environ.get(name, ""))]


@contextlib.contextmanager
def environment_overlay(values: Mapping[str, str]) -> Iterator[None]:
    """Set these variables for the duration (for a library that reads its own, as dbt's env_var() does)."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env_refs(text: str) -> str:
    """Replace `${env:VAR}` references (the sources' YAML options keep secrets in the environment this
    way); KeyError names a variable that is not set."""

    def sub(match: re.Match[str]) -> str:
        if match.group(1) not in os.environ:
            raise KeyError(match.group(1))
        return os.environ[match.group(1)]

    return _ENV_REF.sub(sub, text)


@dataclass(frozen=True)
class Ports:
    kafka: int = field(default_factory=lambda: env_int("SESSIONLAKE_KAFKA_PORT", 1))
    kafka_controller: int = field(default_factory=lambda: env_int("SESSIONLAKE_KAFKA_CONTROLLER_PORT", 1))
    moto: int = field(default_factory=lambda: env_int("SESSIONLAKE_MOTO_PORT", 1))
    search: int = field(default_factory=lambda: env_int("SESSIONLAKE_SEARCH_PORT", 1))
    derby: int = field(default_factory=lambda: env_int("SESSIONLAKE_DERBY_PORT", 1))
    thrift: int = field(default_factory=lambda: env_int("SESSIONLAKE_THRIFT_PORT", 1))
    spark_master: int = field(default_factory=lambda: env_int("SESSIONLAKE_SPARK_MASTER_PORT", 1))
    spark_master_ui: int = field(default_factory=lambda: env_int("SESSIONLAKE_SPARK_MASTER_UI_PORT", 1))
    spark_worker_ui: int = field(default_factory=lambda: env_int("SESSIONLAKE_SPARK_WORKER_UI_PORT", 1))


@dataclass(frozen=True)
class SparkTuning:
    driver_memory: str = field(default_factory=lambda: env("SESSIONLAKE_DRIVER_MEMORY"))
    delta_snapshot_partitions: int = field(default_factory=lambda: env_int("SESSIONLAKE_DELTA_SNAPSHOT_PARTITIONS", 1))
    ui: bool = field(default_factory=lambda: env_bool("SESSIONLAKE_SPARK_UI"))
    log_level: str = field(default_factory=lambda: env("SESSIONLAKE_SPARK_LOG_LEVEL"))
    java_options: str = field(default_factory=lambda: env("SESSIONLAKE_JAVA_OPTIONS") or "")

    @property
    def java_option_list(self) -> list[str]:
        return self.java_options.split()


@dataclass(frozen=True)
class ClusterSettings:
    """The local stack's Spark standalone cluster and Thrift Server, and what an application takes of a cluster."""

    workers: int = field(default_factory=lambda: env_int("SESSIONLAKE_SPARK_WORKERS", 1))
    worker_cores: int = field(default_factory=lambda: env_int("SESSIONLAKE_SPARK_WORKER_CORES", 1))
    worker_memory: str = field(default_factory=lambda: env("SESSIONLAKE_SPARK_WORKER_MEMORY"))
    daemon_memory: str = field(default_factory=lambda: env("SESSIONLAKE_SPARK_DAEMON_MEMORY"))
    executor_memory: str = field(default_factory=lambda: env("SESSIONLAKE_EXECUTOR_MEMORY"))
    cores_max: int = field(default_factory=lambda: env_int("SESSIONLAKE_SPARK_CORES_MAX", 1))
    thrift_memory: str = field(default_factory=lambda: env("SESSIONLAKE_THRIFT_MEMORY"))
    thrift_master: str = field(default_factory=lambda: env("SESSIONLAKE_THRIFT_MASTER"))
    thrift_host_override: str | None = field(default_factory=lambda: env("SESSIONLAKE_THRIFT_HOST"))


@dataclass(frozen=True)
class SearchSettings:
    """How to reach the search engine; the credentials stay out of every repr."""

    engine: str = field(default_factory=lambda: env("SESSIONLAKE_SEARCH_ENGINE"))
    api_key: str | None = field(default_factory=lambda: env("SESSIONLAKE_SEARCH_API_KEY"), repr=False)
    username: str | None = field(default_factory=lambda: env("SESSIONLAKE_SEARCH_USERNAME"))
    password: str | None = field(default_factory=lambda: env("SESSIONLAKE_SEARCH_PASSWORD"), repr=False)
    ca_certs: str | None = field(default_factory=lambda: env("SESSIONLAKE_SEARCH_CA_CERTS"))
    verify_certs: bool = field(default_factory=lambda: env_bool("SESSIONLAKE_SEARCH_VERIFY_CERTS"))
    replicas: int = field(default_factory=lambda: env_int("SESSIONLAKE_SEARCH_REPLICAS", 0))
    policy: str | None = field(default_factory=lambda: env("SESSIONLAKE_SEARCH_POLICY"))
    rollover_max_age: str = field(default_factory=lambda: env_time_value("SESSIONLAKE_SEARCH_ROLLOVER_MAX_AGE"))
    rollover_max_size: str = field(default_factory=lambda: env_size_value("SESSIONLAKE_SEARCH_ROLLOVER_MAX_SIZE"))
    warm_after: str = field(default_factory=lambda: env_time_value("SESSIONLAKE_SEARCH_WARM_AFTER"))
    cold_after: str = field(default_factory=lambda: env_time_value("SESSIONLAKE_SEARCH_COLD_AFTER"))
    delete_after: str | None = field(default_factory=lambda: env_time_value("SESSIONLAKE_SEARCH_DELETE_AFTER"))


@dataclass(frozen=True)
class ExportSettings:
    table: str = field(default_factory=lambda: env("SESSIONLAKE_EXPORT_TABLE"))
    index: str = field(default_factory=lambda: env("SESSIONLAKE_EXPORT_INDEX"))
    dead_letter_table: str = field(default_factory=lambda: env("SESSIONLAKE_EXPORT_DEAD_LETTER_TABLE"))
    max_versions_per_batch: int = field(default_factory=lambda: env_int("SESSIONLAKE_EXPORT_MAX_VERSIONS", 1))
    bulk_docs: int = field(default_factory=lambda: env_int("SESSIONLAKE_EXPORT_BULK_DOCS", 1))
    bulk_bytes: int = field(default_factory=lambda: env_bytes("SESSIONLAKE_EXPORT_BULK_BYTES"))
    bulk_threads: int = field(default_factory=lambda: env_int("SESSIONLAKE_EXPORT_BULK_THREADS", 1))


@dataclass(frozen=True)
class PrivacySettings:
    bronze_retention_days: int = field(default_factory=lambda: env_int("SESSIONLAKE_BRONZE_RETENTION_DAYS", 1))
    purge_raw_copies: bool = field(default_factory=lambda: env_bool("SESSIONLAKE_FORGET_PURGE_RAW"))


def _path(name: str, default: Path) -> Path:
    return Path(env(name) or default)


@dataclass(frozen=True)
class Settings:
    """Where things live and how to reach them; production overrides these through the environment."""

    home: Path = field(default_factory=lambda: _path("SESSIONLAKE_HOME", REPO_ROOT / ".sessionlake"))
    lake_uri_override: str | None = field(default_factory=lambda: env("SESSIONLAKE_LAKE_URI"))
    checkpoint_uri_override: str | None = field(default_factory=lambda: env("SESSIONLAKE_CHECKPOINT_URI"))
    jars_dir: Path = field(default_factory=lambda: _path("SESSIONLAKE_JARS", REPO_ROOT / ".cache" / "jars"))
    ports: Ports = field(default_factory=Ports)
    spark_master: str = field(default_factory=lambda: env("SESSIONLAKE_SPARK_MASTER"))
    shuffle_partitions: int = field(default_factory=lambda: env_int("SESSIONLAKE_SHUFFLE_PARTITIONS", 1))
    spark: SparkTuning = field(default_factory=SparkTuning)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    dbt_target: str = field(default_factory=lambda: env("SESSIONLAKE_DBT_TARGET"))
    aws_region: str = field(default_factory=lambda: env("AWS_DEFAULT_REGION"))
    real_aws: bool = field(default_factory=lambda: env_bool("SESSIONLAKE_REAL_AWS"))
    # Endpoints: None means "the local stack on loopback".
    kafka_bootstrap_override: str | None = field(default_factory=lambda: env("SESSIONLAKE_KAFKA_BOOTSTRAP"))
    aws_endpoint_override: str | None = field(default_factory=lambda: env("SESSIONLAKE_AWS_ENDPOINT"))
    search_url_override: str | None = field(default_factory=lambda: env("SESSIONLAKE_SEARCH_URL"))
    metastore_url_override: str | None = field(default_factory=lambda: env("SESSIONLAKE_METASTORE_URL"))
    search: SearchSettings = field(default_factory=SearchSettings)
    export: ExportSettings = field(default_factory=ExportSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)

    @property
    def is_local(self) -> bool:
        """True on the embedded local stack: no endpoint points anywhere else."""
        return not (
            self.kafka_bootstrap_override
            or self.aws_endpoint_override
            or self.real_aws
            or self.search_url_override
            or self.metastore_url_override
        )

    @property
    def lake(self) -> str:
        """The lake's root URI: a local folder (absolute path) or e.g. s3a://bucket/prefix."""
        return storage.normalise(self.lake_uri_override or str(self.home / "lake"))

    @property
    def warehouse(self) -> str:
        """spark.sql.warehouse.dir: where dbt's silver, gold and pii tables live."""
        return storage.join(self.lake, "warehouse")

    @property
    def checkpoints(self) -> str:
        return storage.normalise(self.checkpoint_uri_override or str(self.home / "checkpoints"))

    @property
    def stack_dir(self) -> Path:
        return self.home / "stack"

    @property
    def build_lock(self) -> Path:
        return self.home / "dbt" / "build.lock"

    @property
    def stack_master_url(self) -> str:
        """The local stack's Spark standalone master."""
        return f"spark://127.0.0.1:{self.ports.spark_master}"

    def master_url(self, master: str | None = None) -> str:
        """A master setting resolved: `stack` is the local stack's standalone master."""
        master = master or self.spark_master
        return self.stack_master_url if master == "stack" else master

    @property
    def thrift_host(self) -> str:
        return self.cluster.thrift_host_override or "127.0.0.1"

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka_bootstrap_override or f"127.0.0.1:{self.ports.kafka}"

    @property
    def aws_endpoint(self) -> str | None:
        """The S3/SQS/SNS endpoint: the override, else the local moto, or None (AWS's own) with real_aws."""
        if self.aws_endpoint_override:
            return self.aws_endpoint_override
        return None if self.real_aws else f"http://127.0.0.1:{self.ports.moto}"

    @property
    def search_url(self) -> str:
        return self.search_url_override or f"http://127.0.0.1:{self.ports.search}"

    @property
    def metastore_url(self) -> str:
        return self.metastore_url_override or (f"jdbc:derby://127.0.0.1:{self.ports.derby}/metastore_db;create=true")

    def bronze_path(self, table: str) -> str:
        return storage.join(self.lake, "bronze", table)


def load() -> Settings:
    """The settings of this process's environment; ConfigurationError names a malformed variable."""
    return Settings()


def reference_markdown() -> str:
    """docs/configuration.md: every variable by group, then the exit codes."""
    lines = [
        "# Configuration",
        "",
        "Generated from `sessionlake/core/settings.py`",
        "(`python -m sessionlake.core.settings > docs/configuration.md`); a test keeps this page equal to the code.",
        "Every setting comes from the environment; an empty value counts as unset. Secrets are never written to",
        "a file in git, a log or a command line: pass them in the environment or from a secret store. A malformed",
        "value stops a command at start with exit code 2 and a message naming the variable.",
    ]
    for group in dict.fromkeys(v.group for v in _DECLARED):
        lines += ["", f"## {group}", "", "| variable | default | what it sets |", "|---|---|---|"]
        for v in (v for v in _DECLARED if v.group == group):
            default = "secret, no default" if v.secret else (f"`{v.default}`" if v.default is not None else "unset")
            lines.append(f"| `{v.name}` | {default} | {v.help} |")
    lines += ["", "## Exit codes", "", "Every `sessionlake` command exits with one of these.", "", "| code | meaning |"]
    lines += ["|---|---|", *(f"| {int(code)} | {text} |" for code, text in EXIT_CODE_MEANINGS.items())]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(reference_markdown())
