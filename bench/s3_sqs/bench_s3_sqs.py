"""s3-sqs benchmark: discovery cost against Spark's file-source listing, and ingest throughput against
`spark.read.json`, measured in the same run on a private moto server.

    python bench/s3_sqs/bench_s3_sqs.py --objects 1000 10000 100000 --new-files 20 \\
        --throughput-files 100 --rows-per-file 2000

Discovery: N objects already under a prefix, then `--new-files` more announced on the queue. One
Trigger.AvailableNow run of the s3-sqs stream (noop sink) is timed from its progress (`latestOffset`:
discovery; `getBatch`: planning the batch's files) and its requests are counted by kind; beside it, the
listing Spark's file source does on every trigger (InMemoryFileIndex over the prefix, as
`spark.read...load(prefix).inputFiles()`) is timed and counted the same way.
Throughput: the same gzipped JSON files read by the s3-sqs stream and by a plain `spark.read.json`,
both into the noop sink, in the same run. Requests come from the moto server's access log.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import boto3
from botocore.config import Config
from pyspark.sql.types import BooleanType, IntegerType, StringType, StructField, StructType

from sessionlake.core.settings import Ports, load
from sessionlake.core.spark import get_session
from sessionlake.ingest.readers import s3_sqs

_REQUEST = re.compile(r'"(GET|PUT|POST|HEAD|DELETE) (\S+) HTTP/[\d.]+" (\d{3})')


class Moto:
    """A moto server of our own, so its access log counts exactly our requests."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.endpoint = f"http://127.0.0.1:{port}"
        self.log = workdir / "moto.log"
        self.process = subprocess.Popen(
            [shutil.which("moto_server") or "moto_server", "-H", "127.0.0.1", "-p", str(port)],
            stderr=self.log.open("w"),
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while "Running on" not in self.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.mark = 0

    def requests(self) -> Counter:
        """Requests since the last call, by kind: sqs (POST /), s3 HEAD, s3 GET object, s3 LIST."""
        lines = self.log.read_text().splitlines()
        new, self.mark = lines[self.mark :], len(lines)
        kinds: Counter = Counter()
        for line in new:
            match = _REQUEST.search(line)
            if not match:
                continue
            method, path, _ = match.groups()
            if method == "POST" and path == "/":
                kinds["sqs"] += 1
            elif method == "HEAD":
                kinds["s3_head"] += 1
            elif method == "GET" and ("list-type" in path or "?" in path and "prefix" in path):
                kinds["s3_list"] += 1
            elif method == "GET":
                kinds["s3_get"] += 1
            else:
                kinds[f"other_{method.lower()}"] += 1
        return kinds

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


def clients(endpoint: str):
    config = Config(max_pool_connections=32, retries={"max_attempts": 10, "mode": "standard"})
    return boto3.client("s3", endpoint_url=endpoint, config=config), boto3.client("sqs", endpoint_url=endpoint)


def put_many(s3, bucket: str, keys: list[str], body: bytes, threads: int = 16) -> None:
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda key: s3.put_object(Bucket=bucket, Key=key, Body=body), keys))


def announce(s3, sqs, queue_url: str, bucket: str, keys: list[str]) -> None:
    """S3 event notifications, ten records a message, with the objects' real sizes and ETags."""
    for i in range(0, len(keys), 10):
        records = []
        for key in keys[i : i + 10]:
            head = s3.head_object(Bucket=bucket, Key=key)
            obj = {"key": key, "size": head["ContentLength"], "eTag": head["ETag"].strip('"')}
            records.append(
                {
                    "eventTime": "2024-05-01T10:00:00.000Z",
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": bucket}, "object": obj},
                }
            )
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"Records": records}))


def run_stream(spark, moto: Moto, queue_url: str, schema: StructType, checkpoint: Path, max_files: int) -> list[dict]:
    query = (
        spark.readStream.format("s3-sqs")
        .option("fileFormat", "json")
        .option("queueUrl", queue_url)
        .option("endpoint", moto.endpoint)
        .option("maxFilesPerTrigger", str(max_files))
        .option("waitTimeSeconds", "0")
        .schema(schema)
        .load()
        .writeStream.format("noop")
        .option("checkpointLocation", str(checkpoint))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    return [p for p in query.recentProgress if p["numInputRows"]]


def discovery(spark, moto: Moto, workdir: Path, objects: int, new_files: int) -> dict:
    s3, sqs = clients(moto.endpoint)
    bucket = f"bench-{objects}-{uuid.uuid4().hex[:6]}"
    s3.create_bucket(Bucket=bucket)
    queue_url = sqs.create_queue(QueueName=bucket, Attributes={"VisibilityTimeout": "600"})["QueueUrl"]
    started = time.perf_counter()
    put_many(s3, bucket, [f"data/old-{i:06d}.json" for i in range(objects)], b'{"id":"x"}\n')
    new = [f"data/new-{i:06d}.json" for i in range(new_files)]
    put_many(s3, bucket, new, b'{"id":"y"}\n')
    announce(s3, sqs, queue_url, bucket, new)
    setup = time.perf_counter() - started
    schema = StructType([StructField("id", StringType())])

    moto.requests()
    batches = run_stream(spark, moto, queue_url, schema, workdir / f"{bucket}-checkpoint", new_files)
    ours_requests = moto.requests()
    ours = {
        "batches": len(batches),
        "files": sum(int(p["sources"][0]["metrics"]["batchFiles"]) for p in batches),
        "discovery_seconds": sum(p["durationMs"].get("latestOffset", 0) for p in batches) / 1000,
        "planning_seconds": sum(p["durationMs"].get("getBatch", 0) for p in batches) / 1000,
        "requests": dict(ours_requests),
    }

    started = time.perf_counter()
    listed = len(spark.read.format("json").schema(schema).load(f"s3a://{bucket}/data/").inputFiles())
    listing = {"seconds": round(time.perf_counter() - started, 3), "files": listed, "requests": dict(moto.requests())}
    return {
        "objects_in_bucket": objects + new_files,
        "setup_seconds": round(setup, 1),
        "s3_sqs": ours,
        "file_source_listing": listing,
    }


def throughput(spark, moto: Moto, workdir: Path, files: int, rows_per_file: int, rounds: int) -> dict:
    s3, sqs = clients(moto.endpoint)
    line = {"event_id": "e" * 36, "session_id": "s" * 36, "level": "INFO", "message": "m" * 120, "crashed": False}
    body = gzip.compress(("\n".join(json.dumps({**line, "n": i}) for i in range(rows_per_file)) + "\n").encode())
    schema = StructType(
        [StructField(name, StringType()) for name in ("event_id", "session_id", "level", "message")]
        + [StructField("crashed", BooleanType()), StructField("n", IntegerType())]
    )
    uncompressed_mb = len(gzip.decompress(body)) * files / 1e6
    results = []
    for r in range(rounds):  # alternate the order, so that neither always runs on a warmer JVM
        bucket = f"bench-tp-{uuid.uuid4().hex[:6]}"
        s3.create_bucket(Bucket=bucket)
        queue_url = sqs.create_queue(QueueName=bucket, Attributes={"VisibilityTimeout": "600"})["QueueUrl"]
        keys = [f"tp/{i:05d}.json.gz" for i in range(files)]
        put_many(s3, bucket, keys, body)
        announce(s3, sqs, queue_url, bucket, keys)

        def baseline(bucket: str = bucket, keys: list[str] = keys) -> float:
            started = time.perf_counter()
            paths = [f"s3a://{bucket}/{k}" for k in keys]
            spark.read.format("json").schema(schema).load(paths).write.format("noop").mode("overwrite").save()
            return time.perf_counter() - started

        def ours(bucket: str = bucket, queue_url: str = queue_url) -> float:
            started = time.perf_counter()
            batches = run_stream(spark, moto, queue_url, schema, workdir / f"{bucket}-checkpoint", files)
            assert sum(p["numInputRows"] for p in batches) == files * rows_per_file
            return time.perf_counter() - started

        timed = {"baseline": baseline(), "ours": ours()} if r % 2 == 0 else {"ours": ours(), "baseline": baseline()}
        results.append(timed)
    base = min(t["baseline"] for t in results)
    mine = min(t["ours"] for t in results)
    return {
        "files": files,
        "uncompressed_mb": round(uncompressed_mb, 1),
        "rounds": [{k: round(v, 2) for k, v in t.items()} for t in results],
        "spark_read_json_mb_s": round(uncompressed_mb / base, 2),
        "s3_sqs_mb_s": round(uncompressed_mb / mine, 2),
        "ratio": round(base / mine, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, nargs="*", default=[1000, 10000, 100000])
    parser.add_argument("--new-files", type=int, default=20)
    parser.add_argument("--throughput-files", type=int, default=100)
    parser.add_argument("--rows-per-file", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("BENCH_MOTO_PORT", "21750")))
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    workdir = Path(tempfile.mkdtemp(prefix="bench-s3-sqs-"))
    moto = Moto(args.moto_port, workdir)
    try:
        settings = load()
        settings = replace(settings, home=workdir / "home", ports=replace(Ports(), moto=args.moto_port))
        spark = get_session(settings, "bench-s3-sqs")
        s3_sqs.require(spark)
        results: dict = {"discovery": []}
        if args.throughput_files:
            results["throughput"] = throughput(
                spark, moto, workdir, args.throughput_files, args.rows_per_file, args.rounds
            )
            print(json.dumps(results["throughput"]), flush=True)
        for n in args.objects:
            results["discovery"].append(discovery(spark, moto, workdir, n, args.new_files))
            print(json.dumps(results["discovery"][-1]), flush=True)
        print(json.dumps(results, indent=1))
        spark.stop()
    finally:
        moto.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
