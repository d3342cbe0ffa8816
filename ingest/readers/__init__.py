"""Reader kinds, one module each, registered by the `kind:` a source's YAML gives (see readers.base)."""

from __future__ import annotations

from sessionlake.ingest.readers.base import Reader
from sessionlake.ingest.readers.kafka import KafkaReader
from sessionlake.ingest.readers.s3 import S3SqsReader

READERS: dict[str, Reader] = {reader.kind: reader for reader in (KafkaReader(), S3SqsReader())}


def reader_for(kind: str) -> Reader:
    """The reader of a source kind (the config loader has checked the kind against KINDS)."""
    return READERS[kind]
