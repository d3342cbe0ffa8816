"""s3-sqs benchmark: discovery cost against Spark's file-source listing, and ingest throughput against
`spark.read.json`, measured in the same run on a private moto server.

    python bench/s3_sqs/bench_s3_sqs.py --objects 1000 10000 --new-files 20 --throughput-files 200

Requests are counted from the moto server's access log (every HTTP request it served).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import boto3
from pyspark.sql.types import BooleanType, IntegerType, StringType, StructField, StructType

from ingest.readers import s3_sqs
from ingest.readers.s3_sqs.discovery import Discovery
from ingest.readers.s3_sqs.options import parse_options
from sessionlake.settings import Ports, load
from sessionlake.spark import get_session


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

    def requests(self) -> int:
        return sum(1 for line in self.log.read_text().splitlines() if '" 20' in line or '" 40' in line)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


def put_many(s3, bucket: str, keys: list[str], body: bytes) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: s3.put_object(Bucket=bucket, Key=key, Body=body), keys))


def announce(sqs, queue_url: str, bucket: str, keys: list[str]) -> None:
    for i in range(0, len(keys), 10):
        records = [
            {
                "eventTime": "2024-05-01T10:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": bucket}, "object": {"key": k, "size": 1, "eTag": k}},
            }
            for k in keys[i : i + 10]
        ]
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"Records": records}))


def discovery(spark, moto: Moto, workdir: Path, objects: int, new_files: int) -> dict:
    s3 = boto3.client("s3", endpoint_url=moto.endpoint)
    sqs = boto3.client("sqs", endpoint_url=moto.endpoint)
    bucket = f"bench-{objects}-{uuid.uuid4().hex[:6]}"
    s3.create_bucket(Bucket=bucket)
    queue_url = sqs.create_queue(QueueName=bucket)["QueueUrl"]
    put_many(s3, bucket, [f"data/old-{i:06d}.json" for i in range(objects)], b'{"id":"x"}\n')
    new = [f"data/new-{i:06d}.json" for i in range(new_files)]
    put_many(s3, bucket, new, b'{"id":"y"}\n')
    announce(sqs, queue_url, bucket, new)

    options = parse_options(
        {
            "queueUrl": queue_url,
            "fileFormat": "json",
            "endpoint": moto.endpoint,
            "metadataPath": str(workdir / bucket),
            "waitTimeSeconds": "0",
        }
    )
    source = Discovery(replace(options, max_files_per_trigger=new_files))
    before, started = moto.requests(), time.perf_counter()
    logged = source.poll()
    ours = {"seconds": time.perf_counter() - started, "requests": moto.requests() - before, "files": logged}

    before, started = moto.requests(), time.perf_counter()
    listed = len(spark.read.format("json").schema("id string").load(f"s3a://{bucket}/data/").inputFiles())
    spark_listing = {"seconds": time.perf_counter() - started, "requests": moto.requests() - before, "files": listed}
    return {"objects_in_bucket": objects + new_files, "s3_sqs": ours, "file_source_listing": spark_listing}


def throughput(spark, moto: Moto, workdir: Path, files: int, rows_per_file: int) -> dict:
    s3 = boto3.client("s3", endpoint_url=moto.endpoint)
    sqs = boto3.client("sqs", endpoint_url=moto.endpoint)
    bucket = f"bench-tp-{uuid.uuid4().hex[:6]}"
    s3.create_bucket(Bucket=bucket)
    queue_url = sqs.create_queue(QueueName=bucket, Attributes={"VisibilityTimeout": "600"})["QueueUrl"]
    line = {"event_id": "e" * 36, "session_id": "s" * 36, "level": "INFO", "message": "m" * 120, "crashed": False}
    body = gzip.compress(("\n".join(json.dumps({**line, "n": i}) for i in range(rows_per_file)) + "\n").encode())
    keys = [f"tp/{i:05d}.json.gz" for i in range(files)]
    put_many(s3, bucket, keys, body)
    announce(sqs, queue_url, bucket, keys)
    schema = StructType(
        [StructField(name, StringType()) for name in ("event_id", "session_id", "level", "message")]
        + [StructField("crashed", BooleanType()), StructField("n", IntegerType())]
    )
    uncompressed_mb = len(gzip.decompress(body)) * files / 1e6

    started = time.perf_counter()
    spark.read.format("json").schema(schema).load([f"s3a://{bucket}/{k}" for k in keys]).write.format("noop").mode(
        "overwrite"
    ).save()
    baseline = time.perf_counter() - started

    s3_sqs.register(spark)
    started = time.perf_counter()
    (
        spark.readStream.format("s3-sqs")
        .option("fileFormat", "json")
        .option("queueUrl", queue_url)
        .option("endpoint", moto.endpoint)
        .option("metadataPath", str(workdir / "tp-checkpoint" / "s3-sqs"))
        .option("maxFilesPerTrigger", str(files))
        .option("waitTimeSeconds", "0")
        .schema(s3_sqs.with_file_columns(schema))
        .load()
        .writeStream.format("noop")
        .option("checkpointLocation", str(workdir / "tp-checkpoint"))
        .trigger(availableNow=True)
        .start()
        .awaitTermination()
    )
    ours = time.perf_counter() - started
    return {
        "files": files,
        "uncompressed_mb": round(uncompressed_mb, 1),
        "spark_read_json_mb_s": round(uncompressed_mb / baseline, 2),
        "s3_sqs_mb_s": round(uncompressed_mb / ours, 2),
        "ratio": round(baseline / ours, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--new-files", type=int, default=20)
    parser.add_argument("--throughput-files", type=int, default=200)
    parser.add_argument("--rows-per-file", type=int, default=2000)
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("BENCH_MOTO_PORT", "23750")))
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
        results = {"discovery": [discovery(spark, moto, workdir, n, args.new_files) for n in args.objects]}
        results["throughput"] = throughput(spark, moto, workdir, args.throughput_files, args.rows_per_file)
        print(json.dumps(results, indent=1))
        spark.stop()
    finally:
        moto.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
