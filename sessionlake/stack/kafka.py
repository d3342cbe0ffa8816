"""A single-node Apache Kafka broker in KRaft mode (combined broker + controller), and the reference topics."""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from sessionlake.core.domain import KAFKA_PARTITIONS, KAFKA_TOPICS
from sessionlake.core.settings import Settings
from sessionlake.stack.component import Component, Launch, Port
from sessionlake.stack.jvm import jar_classpath, java_bin
from sessionlake.stack.process import StackError, port_open

_LOG4J = """\
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
"""


def server_properties(settings: Settings, data_dir: Path) -> str:
    port, controller = settings.ports.kafka, settings.ports.kafka_controller
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": str(KAFKA_PARTITIONS),
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "3",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "num.network.threads": "2",
        "num.io.threads": "2",
        "background.threads": "2",
        "log.retention.hours": "168",
        "log.segment.bytes": str(64 * 1024 * 1024),
    }
    return "".join(f"{key}={value}\n" for key, value in props.items())


def cluster_id() -> str:
    """A KRaft cluster id in Kafka's Uuid text form (URL-safe base64 of 16 random bytes).

    Like Kafka's own ``Uuid.randomUuid``, ids starting with ``-`` are drawn again:
    ``kafka-storage format -t -abc…`` would read the id as an option.
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):
            return text


class Kafka(Component):
    name = "kafka"
    start_timeout = 90.0

    def ports(self, settings: Settings) -> list[Port]:
        return [
            Port(settings.ports.kafka, "Kafka broker", "SESSIONLAKE_KAFKA_PORT"),
            Port(settings.ports.kafka_controller, "Kafka KRaft controller", "SESSIONLAKE_KAFKA_CONTROLLER_PORT"),
        ]

    def endpoint(self, settings: Settings) -> str:
        return settings.kafka_bootstrap

    def prepare(self, settings: Settings) -> Launch:
        java = java_bin(self.name)
        classpath = jar_classpath(settings.jars_dir / "kafka", self.name, "kafka_2.13")
        work = self.workdir(settings)
        data_dir = work / "data"
        work.mkdir(parents=True, exist_ok=True)
        config = work / "server.properties"
        config.write_text(server_properties(settings, data_dir))
        log4j = work / "log4j.properties"
        log4j.write_text(_LOG4J)
        jvm_opts = [f"-Dlog4j.configuration=file:{log4j}", f"-Dkafka.logs.dir={work / 'logs'}"]
        if not (data_dir / "meta.properties").exists():
            self._format(java, classpath, jvm_opts, config, work)
        return Launch(
            argv=[
                java,
                "-Xms256m",
                "-Xmx512m",
                "-XX:+UseG1GC",
                "-XX:MaxGCPauseMillis=20",
                "-Djava.awt.headless=true",
                *settings.spark.java_option_list,
                *jvm_opts,
                "-cp",
                classpath,
                "kafka.Kafka",
                str(config),
            ],
            cwd=work,
        )

    def _format(self, java: str, classpath: str, jvm_opts: list[str], config: Path, work: Path) -> None:
        """Format the KRaft storage once (Kafka's StorageTool), as `kafka-storage.sh format` does."""
        argv = [java, "-Xmx256m", *jvm_opts, "-cp", classpath, "kafka.tools.StorageTool", "format"]
        argv += ["-t", cluster_id(), "-c", str(config), "--ignore-formatted"]
        result = subprocess.run(argv, cwd=work, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise StackError(f"kafka: formatting storage failed ({result.returncode}):\n{result.stderr[-2000:]}")

    def _admin(self, settings: Settings) -> AdminClient:
        return AdminClient({"bootstrap.servers": settings.kafka_bootstrap, "socket.timeout.ms": 3000})

    def healthy(self, settings: Settings) -> bool:
        if not port_open(settings.ports.kafka):
            return False
        try:
            metadata = self._admin(settings).list_topics(timeout=3)
        except KafkaException:
            return False
        return bool(metadata.brokers)

    def provision(self, settings: Settings) -> None:
        admin = self._admin(settings)
        existing = set(admin.list_topics(timeout=10).topics)
        # Records expire with bronze's raw PII (docs/pii.md): no raw copy outlives the bronze retention.
        retention = {"retention.ms": str(settings.privacy.bronze_retention_days * 24 * 3600 * 1000)}
        wanted = [
            NewTopic(topic, num_partitions=KAFKA_PARTITIONS, replication_factor=1, config=retention)
            for topic in KAFKA_TOPICS
            if topic not in existing
        ]
        if not wanted:
            return
        for topic, future in admin.create_topics(wanted, operation_timeout=30).items():
            try:
                future.result(timeout=60)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise StackError(f"kafka: creating topic {topic!r} failed: {exc}") from exc
