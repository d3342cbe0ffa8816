"""The one place a SparkSession is configured: Delta, the shared metastore, S3A, the jar cache."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from sessionlake.core.errors import ConfigurationError
from sessionlake.core.settings import Settings, secret
from sessionlake.core.storage import check_location


class MissingJarsError(ConfigurationError):
    """The jar cache lacks an artifact Spark needs: `make jars` fills it."""


# The project's own Scala modules (jvm/<name>/src): the s3-sqs source and the SQL functions.
BUILT_MODULES = ("s3-sqs-source", "spark-functions")


def spark_jars(settings: Settings) -> list[Path]:
    """The Maven-resolved jars Spark needs on top of pyspark's own (`make jars` fills the cache)."""
    jars = sorted((settings.jars_dir / "spark").glob("*.jar"))
    if not any(j.name.startswith("delta-spark") for j in jars):
        raise MissingJarsError(
            f"no Delta jars in {settings.jars_dir / 'spark'}: run `make jars` (Maven resolves them once)"
        )
    for module in BUILT_MODULES:
        built = sorted((settings.jars_dir / module).glob("*.jar"))
        if not built:
            raise MissingJarsError(
                f"no {module} jar in {settings.jars_dir / module}: run `make jars` (Maven builds jvm/{module})"
            )
        jars += built
    return jars


def _s3a_conf(settings: Settings) -> dict[str, str]:
    conf = {
        "spark.hadoop.fs.s3a.endpoint.region": settings.aws_region,
        "spark.hadoop.fs.s3a.aws.credentials.provider": (
            "software.amazon.awssdk.auth.credentials.EnvironmentVariableCredentialsProvider"
        ),
    }
    if settings.aws_endpoint:
        conf |= {
            "spark.hadoop.fs.s3a.endpoint": settings.aws_endpoint,
            "spark.hadoop.fs.s3a.path.style.access": "true",
            "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
            "spark.hadoop.fs.s3a.change.detection.mode": "none",
        }
    return conf


# The PII keys are session conf read by sessionlake's SQL functions when a query is analysed
# (`sessionlake_pseudonymize`, `sessionlake_master_key`: jvm/spark-functions), never substituted into SQL
# text, so compiled dbt SQL, plans and logs never hold them. They are set on the running session, never
# passed on the JVM's command line (where `ps` would show them).
SECRET_CONFS = {
    "SESSIONLAKE_PII_SECRET": "spark.sessionlake.pii.hashkey",
    "SESSIONLAKE_PII_MASTER_KEY": "spark.sessionlake.pii.masterkey",  # wraps the per-player data keys
}


def _secret_conf() -> dict[str, str]:
    return {conf: secret(env) for env, conf in SECRET_CONFS.items() if secret(env)}


def cluster_conf(settings: Settings, master: str) -> dict[str, str]:
    """What an application on a standalone cluster adds: the jar cache for its executors, its share.

    Executors get the jars through spark.jars, never Ivy: on the local stack's loopback cluster as `local:`
    URIs (the same files on the same machine, nothing copied: the AWS SDK bundle alone is 640 MB); on any
    other cluster as files the driver serves and every executor fetches once per application.
    """
    local_cluster = master == settings.stack_master_url
    scheme = "local:" if local_cluster else "file:"
    conf = {
        "spark.jars": ",".join(f"{scheme}{j}" for j in spark_jars(settings)),
        "spark.executor.memory": settings.cluster.executor_memory,
        "spark.cores.max": str(settings.cluster.cores_max),
    }
    if local_cluster:
        conf["spark.driver.host"] = "127.0.0.1"
    return conf


# `SESSIONLAKE_SPARK_MASTER=provided`: whoever started the driver (spark-submit, a Databricks job) set the
# master, the jars, the catalog and the metastore; sessionlake sets only its session's SQL conf.
PROVIDED = "provided"


def sql_conf(settings: Settings) -> dict[str, str]:
    """The SQL conf every sessionlake session runs with; all of it can be set on a running session."""
    return {
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.streaming.stateStore.providerClass": (
            "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
        ),
        "spark.databricks.delta.schema.autoMerge.enabled": "false",
        # Auto compaction (the tables' delta.autoOptimize.autoCompact) counts each partition's small files
        # in memory. Per modified partition (Delta's default), a process that did not see a table's
        # earlier commits compacts the partition after every write: every micro-batch of an ingest
        # restarted on existing tables ran an OPTIMIZE (delta-io/delta#4043, #4487). Per table,
        # compaction waits until a partition has minNumFiles (50) small files written by this process.
        "spark.databricks.delta.autoCompact.modifiedPartitionsOnly.enabled": "false",
        # Delta reads its log with this many tasks (default 50): far too many for small local tables.
        "spark.databricks.delta.snapshotPartitions": str(settings.spark.delta_snapshot_partitions),
    }


def session_conf(settings: Settings, app_name: str, master: str | None = None) -> dict[str, str]:
    """A sessionlake SparkSession's conf (no secrets), on `master` (default: the configured one)."""
    master = settings.master_url(master)
    if master == PROVIDED:
        return sql_conf(settings)
    jars = spark_jars(settings)
    classpath = os.pathsep.join(str(j) for j in jars)
    conf = {
        "spark.app.name": app_name,
        "spark.master": master,
        "spark.driver.extraClassPath": classpath,
        "spark.executor.extraClassPath": classpath,
        "spark.driver.memory": settings.spark.driver_memory,
        "spark.sql.extensions": (
            "io.delta.sql.DeltaSparkSessionExtension,org.apache.spark.sql.sessionlake.functions.SessionlakeExtensions"
        ),
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(settings.warehouse),
        "spark.hadoop.javax.jdo.option.ConnectionURL": settings.metastore_url,
        "spark.hadoop.javax.jdo.option.ConnectionDriverName": "org.apache.derby.jdbc.ClientDriver",
        "spark.hadoop.datanucleus.schema.autoCreateAll": "true",
        "spark.hadoop.hive.metastore.schema.verification": "false",
        "spark.ui.enabled": str(settings.spark.ui).lower(),
        "spark.ui.showConsoleProgress": "false",
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
    }
    conf |= sql_conf(settings) | _s3a_conf(settings)
    if settings.spark.java_options:
        conf["spark.driver.extraJavaOptions"] = settings.spark.java_options
        conf["spark.executor.extraJavaOptions"] = settings.spark.java_options
    if master.startswith("spark://"):
        conf.pop("spark.executor.extraClassPath")  # the executors' jars come with spark.jars
        conf |= cluster_conf(settings, master)
    return conf


LOG4J2 = """\
rootLogger.level = {level}
rootLogger.appenderRef.file.ref = file
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = {log}
appender.file.filePattern = {log}.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{{yyyy-MM-dd HH:mm:ss}} %p %c{{1}}: %m%n%ex
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
"""


def driver_log_conf(settings: Settings, app_name: str) -> Path:
    """A log4j2 configuration sending the driver JVM's logs (Spark, Hive, Derby client, Delta) to
    `<home>/logs/<app_name>.log` instead of the terminal; written now, read when the JVM starts."""
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    conf = logs / f"log4j2-{app_name}.properties"
    conf.write_text(LOG4J2.format(level=settings.spark.log_level.lower(), log=logs / f"{app_name}.log"))
    return conf


def get_session(settings: Settings, app_name: str = "sessionlake", pii_keys: bool = True) -> SparkSession:
    """Get (or create) the process's SparkSession, with every sessionlake setting applied; the PII keys
    only with `pii_keys` (an analyst's session has none). A JVM it starts logs to `<home>/logs/`."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    conf = session_conf(settings, app_name)
    if settings.master_url() != PROVIDED:
        log_option = f"-Dlog4j2.configurationFile=file:{driver_log_conf(settings, app_name)}"
        conf["spark.driver.extraJavaOptions"] = f"{settings.spark.java_options} {log_option}".strip()
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    if settings.master_url() != PROVIDED:
        builder = builder.enableHiveSupport()
    spark = builder.getOrCreate()
    for key, value in _secret_conf().items():
        if pii_keys:
            spark.conf.set(key, value)
        else:
            spark.conf.unset(key)
    spark.sparkContext.setLogLevel(settings.spark.log_level)
    check_location(spark, settings.lake, "SESSIONLAKE_LAKE_URI")
    check_location(spark, settings.checkpoints, "SESSIONLAKE_CHECKPOINT_URI")
    return spark
