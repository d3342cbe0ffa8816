"""The local stack: real Derby, Kafka, moto server and Elasticsearch processes on loopback."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote_plus

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

from sessionlake import stack
from sessionlake.core.domain import KAFKA_PARTITIONS, KAFKA_TOPICS, LOG_BUCKETS
from sessionlake.core.settings import Ports, Settings
from sessionlake.stack.aws import MAX_RECEIVE_COUNT, aws_client, provision_log_buckets
from sessionlake.stack.kafka import cluster_id, server_properties
from sessionlake.stack.process import group_alive, pid_alive, port_open
from sessionlake.stack.search import localize_jvm_options, node_settings, search_engine
from tests.conftest import PORT_BASE

pytestmark = pytest.mark.stack

BUCKETS = {b.bucket: b for b in LOG_BUCKETS}


def _private_settings(home: Path, offset: int) -> Settings:
    """A stack of our own (ports apart from the session fixtures'), to stop and restart freely."""
    ports = Ports(
        kafka=PORT_BASE + offset + 92,
        kafka_controller=PORT_BASE + offset + 93,
        moto=PORT_BASE + offset + 50,
        search=PORT_BASE + offset + 200,
        derby=PORT_BASE + offset + 27,
    )
    return Settings(home=home, ports=ports)


def _pids(settings: Settings) -> dict[str, int | None]:
    return {s.name: s.pid for s in stack.status(settings)}


def _drain(sqs, queue_url: str) -> list[dict]:
    """Receive and delete every message on the queue (until one empty long poll)."""
    messages = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        if not batch.get("Messages"):
            return messages
        for message in batch["Messages"]:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        messages.extend(batch["Messages"])


# --- the full lifecycle on a private stack -------------------------------------------------------


@pytest.fixture(scope="module")
def private_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = _private_settings(tmp_path_factory.mktemp("private-stack"), offset=400)
    yield settings
    stack.down(settings)


def test_whole_stack_comes_up_answers_and_second_up_is_a_no_op(private_stack: Settings) -> None:
    started = time.monotonic()
    stack.up(private_stack)
    elapsed = time.monotonic() - started
    assert elapsed < 120, f"stack took {elapsed:.0f}s to start"

    statuses = {s.name: s for s in stack.status(private_stack)}
    assert set(statuses) == set(stack.COMPONENTS)
    for s in statuses.values():
        assert s.running, s
        assert s.pid is not None and pid_alive(s.pid), s
        assert s.detail == "healthy"

    # Each answers its own protocol.
    derby_ping = subprocess.run(
        [
            "java",
            "-cp",
            f"{private_stack.jars_dir / 'derby'}/*",
            "org.apache.derby.drda.NetworkServerControl",
            "ping",
            "-h",
            "127.0.0.1",
            "-p",
            str(private_stack.ports.derby),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert derby_ping.returncode == 0, derby_ping.stdout + derby_ping.stderr
    topics = AdminClient({"bootstrap.servers": private_stack.kafka_bootstrap}).list_topics(timeout=10).topics
    assert set(KAFKA_TOPICS) <= set(topics)
    names = {b["Name"] for b in aws_client(private_stack, "s3").list_buckets()["Buckets"]}
    assert set(BUCKETS) <= names
    from elasticsearch import Elasticsearch

    es = Elasticsearch(private_stack.search_url, request_timeout=30)
    assert es.cluster.health()["status"] in ("yellow", "green")
    es.index(index="stack-smoke", id="1", document={"hello": "world"}, refresh=True)
    assert es.get(index="stack-smoke", id="1")["_source"] == {"hello": "world"}

    before = _pids(private_stack)
    started = time.monotonic()
    stack.up(private_stack)
    assert time.monotonic() - started < 10
    assert _pids(private_stack) == before


def test_moto_restart_is_provisioned_again(private_stack: Settings) -> None:
    stack.up(private_stack, ["moto"])
    old_pid = _pids(private_stack)["moto"]
    assert old_pid is not None
    os.killpg(old_pid, 9)  # moto loses its in-memory state
    deadline = time.monotonic() + 10
    while group_alive(old_pid) and time.monotonic() < deadline:
        time.sleep(0.1)

    stack.up(private_stack, ["moto"])

    new_pid = _pids(private_stack)["moto"]
    assert new_pid not in (None, old_pid)
    names = {b["Name"] for b in aws_client(private_stack, "s3").list_buckets()["Buckets"]}
    assert set(BUCKETS) <= names


def test_down_leaves_no_process_and_frees_the_ports(private_stack: Settings) -> None:
    stack.up(private_stack)
    pids = _pids(private_stack)
    assert all(pids.values()), pids

    stack.down(private_stack)

    for name, pid in pids.items():
        assert not pid_alive(pid), f"{name} pid {pid} still alive"
        assert not group_alive(pid), f"{name} process group {pid} still has processes"
    assert not list(private_stack.stack_dir.glob("*/*.pid"))
    assert all(not s.running and s.pid is None for s in stack.status(private_stack))
    p = private_stack.ports
    for port in (p.derby, p.kafka, p.kafka_controller, p.moto, p.search, p.search + 100):
        assert not port_open(port), f"port {port} still answers"
    stack.down(private_stack)  # stopping a stopped stack is fine


def test_a_reused_pid_is_not_taken_for_ours(tmp_path: Path) -> None:
    settings = _private_settings(tmp_path, offset=400)
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        pid_file = settings.stack_dir / "moto" / "moto.pid"
        pid_file.parent.mkdir(parents=True)
        pid_file.write_text(f"{stranger.pid}\n")

        [moto_status] = [s for s in stack.status(settings) if s.name == "moto"]

        assert (moto_status.running, moto_status.pid) == (False, None)
        assert not pid_file.exists()
        stack.down(settings, ["moto"])
        assert stranger.poll() is None  # down never touches a process it did not start
    finally:
        stranger.kill()
        stranger.wait()


# --- errors -----------------------------------------------------------------------------------------


@pytest.fixture
def squatter() -> Iterator[int]:
    """A port held by a listener that is not ours."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", PORT_BASE + 800))
        sock.listen()
        yield sock.getsockname()[1]


def test_taken_port_names_component_and_port(tmp_path: Path, squatter: int) -> None:
    settings = _private_settings(tmp_path, offset=400)
    settings = replace(settings, ports=replace(settings.ports, kafka_controller=squatter))
    with pytest.raises(stack.PortTakenError, match=rf"kafka: port {squatter} \(Kafka KRaft controller\)"):
        stack.up(settings, ["moto", "kafka"])
    # moto, launched before kafka failed, was stopped again: nothing half-started stays behind.
    assert not list(settings.stack_dir.glob("*/*.pid"))
    assert not port_open(settings.ports.moto)

    settings = replace(settings, ports=replace(settings.ports, moto=squatter))
    with pytest.raises(stack.PortTakenError, match=rf"moto: port {squatter} .*SESSIONLAKE_MOTO_PORT"):
        stack.up(settings, ["moto"])


def test_missing_java_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(stack.StackError, match=r"metastore: no `java` found"):
        stack.up(_private_settings(tmp_path, offset=400), ["metastore"])


def test_unresolved_jars_say_make_jars(tmp_path: Path) -> None:
    settings = replace(_private_settings(tmp_path, offset=400), jars_dir=tmp_path / "no-jars")
    for name in ("metastore", "kafka", "search"):
        with pytest.raises(stack.StackError, match=rf"{name}: no .* run `make jars`"):
            stack.up(settings, [name])


def test_unknown_component_is_named(settings: Settings) -> None:
    with pytest.raises(stack.StackError, match=r"unknown stack component\(s\) \['zookeeper'\]"):
        stack.up(settings, ["zookeeper"])


# --- the session fixtures' components ---------------------------------------------------------------


def test_metastore_fixture_accepts_connections(metastore: str, settings: Settings) -> None:
    assert metastore.startswith(f"jdbc:derby://127.0.0.1:{settings.ports.derby}/")
    assert port_open(settings.ports.derby)


def test_kafka_has_reference_topics_and_round_trips(kafka: str, settings: Settings) -> None:
    admin = AdminClient({"bootstrap.servers": kafka})
    metadata = admin.list_topics(timeout=10)
    for topic in KAFKA_TOPICS:
        assert len(metadata.topics[topic].partitions) == KAFKA_PARTITIONS
    # Raw records expire with bronze's raw PII: the topics keep them no longer than the bronze retention.
    resources = [ConfigResource("topic", topic) for topic in KAFKA_TOPICS]
    for future in admin.describe_configs(resources).values():
        retention_ms = int(future.result(timeout=30)["retention.ms"].value)
        assert retention_ms == settings.privacy.bronze_retention_days * 24 * 3600 * 1000

    value = json.dumps({"event_id": str(uuid.uuid4())}).encode()
    delivered = []
    producer = Producer({"bootstrap.servers": kafka})
    producer.produce("session-events", key=b"s-1", value=value, on_delivery=lambda e, m: delivered.append((e, m)))
    producer.flush(30)
    [(error, message)] = delivered
    assert error is None

    consumer = Consumer({"bootstrap.servers": kafka, "group.id": "stack-test", "enable.auto.commit": False})
    consumer.assign([TopicPartition("session-events", message.partition(), message.offset())])
    try:
        received = consumer.poll(30)
    finally:
        consumer.close()
    assert received is not None and received.error() is None
    assert (received.key(), received.value()) == (b"s-1", value)


def test_queues_have_dead_letter_queues(moto: str, settings: Settings) -> None:
    sqs = aws_client(settings, "sqs")
    for bucket in LOG_BUCKETS:
        url = sqs.get_queue_url(QueueName=bucket.queue)["QueueUrl"]
        dlq_url = sqs.get_queue_url(QueueName=bucket.dead_letter_queue)["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"] == dlq_arn
        assert int(redrive["maxReceiveCount"]) == MAX_RECEIVE_COUNT


def _put_and_receive(settings: Settings, bucket: str, queue: str) -> tuple[str, list[dict]]:
    s3, sqs = aws_client(settings, "s3"), aws_client(settings, "sqs")
    queue_url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    _drain(sqs, queue_url)
    key = f"{BUCKETS[bucket].service}/dt=2024-05-01/hour=13/{uuid.uuid4()}.json"
    s3.put_object(Bucket=bucket, Key=key, Body=b'{"event_id": "e-1"}\n')
    return key, [json.loads(m["Body"]) for m in _drain(sqs, queue_url)]


def test_client_logs_notify_sqs_directly(moto: str, settings: Settings) -> None:
    key, bodies = _put_and_receive(settings, "client-logs", "client-logs-events")

    assert len(bodies) == 1
    [body] = bodies
    assert "Type" not in body  # no SNS envelope
    [record] = body["Records"]
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"].startswith("ObjectCreated:")
    assert record["s3"]["bucket"]["name"] == "client-logs"
    assert unquote_plus(record["s3"]["object"]["key"]) == key  # S3 URL-encodes keys in events


def test_billing_logs_notify_through_sns_envelope(moto: str, settings: Settings) -> None:
    key, bodies = _put_and_receive(settings, "billing-logs", "billing-logs-events")

    assert len(bodies) == 1
    [envelope] = bodies
    assert envelope["Type"] == "Notification"
    assert envelope["TopicArn"].endswith(":billing-logs")
    assert {"MessageId", "Timestamp", "Signature"} <= set(envelope)
    [record] = json.loads(envelope["Message"])["Records"]
    assert record["eventName"].startswith("ObjectCreated:")
    assert record["s3"]["bucket"]["name"] == "billing-logs"
    assert unquote_plus(record["s3"]["object"]["key"]) == key  # S3 URL-encodes keys in events


def test_a_put_on_one_bucket_reaches_only_its_queue(moto: str, settings: Settings) -> None:
    sqs = aws_client(settings, "sqs")
    billing_url = sqs.get_queue_url(QueueName="billing-logs-events")["QueueUrl"]
    _drain(sqs, billing_url)
    _put_and_receive(settings, "client-logs", "client-logs-events")
    assert _drain(sqs, billing_url) == []


def test_provisioning_again_changes_nothing(moto: str, settings: Settings) -> None:
    sqs, sns = aws_client(settings, "sqs"), aws_client(settings, "sns")
    urls = {b.queue: sqs.get_queue_url(QueueName=b.queue)["QueueUrl"] for b in LOG_BUCKETS}
    for url in urls.values():
        _drain(sqs, url)

    provision_log_buckets(settings)
    stack.up(settings, ["moto"])

    # No new S3 test event (the notification configuration was not rewritten), no second subscription.
    assert all(_drain(sqs, url) == [] for url in urls.values())
    topics = sns.list_topics()["Topics"]
    [topic_arn] = [t["TopicArn"] for t in topics if t["TopicArn"].endswith(":billing-logs")]
    assert len(sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]) == 1
    for bucket in LOG_BUCKETS:  # the queue and its dead-letter queue, once each
        assert len(sqs.list_queues(QueueNamePrefix=bucket.queue)["QueueUrls"]) == 2
    # The landing buckets expire raw files with bronze's raw PII (docs/pii.md).
    s3 = aws_client(settings, "s3")
    for bucket in LOG_BUCKETS:
        [rule] = s3.get_bucket_lifecycle_configuration(Bucket=bucket.bucket)["Rules"]
        assert rule["Expiration"] == {"Days": settings.privacy.bronze_retention_days}


# --- pure functions ---------------------------------------------------------------------------------


def test_kafka_config_is_kraft_on_loopback(tmp_path: Path) -> None:
    settings = _private_settings(tmp_path, offset=0)
    props = dict(line.split("=", 1) for line in server_properties(settings, tmp_path).splitlines())
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == (
        f"PLAINTEXT://127.0.0.1:{settings.ports.kafka},CONTROLLER://127.0.0.1:{settings.ports.kafka_controller}"
    )
    assert props["controller.quorum.voters"] == f"1@127.0.0.1:{settings.ports.kafka_controller}"
    assert props["log.dirs"] == str(tmp_path)


def test_cluster_ids_are_kafka_uuids_that_never_read_as_an_option() -> None:
    # One draw in 64 started with "-" before, and kafka-storage took it for a flag.
    ids = [cluster_id() for _ in range(2000)]
    assert not [i for i in ids if i.startswith("-")]
    assert {len(base64.urlsafe_b64decode(i + "==")) for i in ids} == {16}
    assert len(set(ids)) == len(ids)


def test_jvm_options_write_into_the_state_dir(tmp_path: Path) -> None:
    options = "-XX:HeapDumpPath=data\n-XX:ErrorFile=logs/hs_err_pid%p.log\n9-:-Xlog:gc*:file=logs/gc.log:utctime\n"
    assert localize_jvm_options(options, tmp_path).splitlines() == [
        f"-XX:HeapDumpPath={tmp_path}/data",
        f"-XX:ErrorFile={tmp_path}/logs/hs_err_pid%p.log",
        f"9-:-Xlog:gc*:file={tmp_path}/logs/gc.log:utctime",
    ]


def test_search_config_single_node_without_watermarks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _private_settings(tmp_path, offset=0)
    config = node_settings(settings, search_engine(settings), tmp_path)
    assert config["path.data"] == str(tmp_path / "data")
    assert config["discovery.type"] == "single-node"
    assert config["cluster.routing.allocation.disk.threshold_enabled"] == "false"
    assert config["transport.port"] == str(settings.ports.search + 100)
    monkeypatch.setenv("SESSIONLAKE_SEARCH_ENGINE", "solr")
    with pytest.raises(stack.StackError, match=r"SESSIONLAKE_SEARCH_ENGINE='solr'"):
        search_engine(_private_settings(tmp_path, offset=0))


def test_cli_up_status_down(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from sessionlake.app.commands import stack as stack_command

    parser = argparse.ArgumentParser()
    stack_command.add_parser(parser.add_subparsers(dest="command", required=True))
    settings = _private_settings(tmp_path, offset=400)

    def run(*argv: str) -> int:
        args = parser.parse_args(["stack", *argv])
        return args.func(args, settings)

    try:
        assert run("up", "--only", "moto") == 0
        assert re.search(rf"^moto\s+running\s+pid={_pids(settings)['moto']}\s", capsys.readouterr().out, re.M)
        assert run("status") == 3  # not every component runs
        assert run("status", "--only", "moto") == 0
    finally:
        assert run("down") == 0
    assert re.search(r"^moto\s+stopped\s", capsys.readouterr().out, re.M)
    with pytest.raises(SystemExit):
        parser.parse_args(["stack", "up", "--only", "zookeeper"])
