"""The durable discovery log: every file the source will read, numbered, in metadataPath/log.

Offsets of the stream are positions in this log. Each latestOffset() call appends one segment file
`<end>.jsonl` holding entries [start, end), written to a temporary name, fsynced and renamed, so a
segment is either whole or absent. partitions(start, end) reads the entries back, so a batch replayed
after a crash reads exactly the files it was planned with.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

from ingest.readers.s3_sqs.notifications import ObjectEvent
from ingest.readers.s3_sqs.options import OptionError

_SEGMENT = re.compile(r"^(\d{20})\.jsonl$")


class DiscoveryLogError(RuntimeError):
    """The log on disk is not a contiguous sequence of segments."""


@dataclass(frozen=True)
class LoggedFile:
    seq: int
    bucket: str
    key: str
    version_id: str | None
    size: int
    etag: str
    token: str  # version id, sequencer or etag: with bucket and key, the object version's identity
    event_time: str  # ISO-8601, from the notification
    discovered_at: str  # ISO-8601, when this source logged it

    @property
    def identity(self) -> tuple[str, str, str]:
        return (self.bucket, self.key, self.token)

    @property
    def uri(self) -> str:
        return f"s3a://{self.bucket}/{self.key}"

    @classmethod
    def from_event(cls, seq: int, event: ObjectEvent, discovered_at: datetime) -> LoggedFile:
        return cls(
            seq=seq,
            bucket=event.bucket,
            key=event.key,
            version_id=event.version_id,
            size=event.size,
            etag=event.etag,
            token=event.identity[2],
            event_time=event.event_time.isoformat(),
            discovered_at=discovered_at.isoformat(),
        )


def local_dir(metadata_path: str) -> Path:
    """metadataPath as a local directory (a plain path or a file: URI)."""
    parsed = urlparse(metadata_path)
    if parsed.scheme in ("", "file"):
        return Path(parsed.path if parsed.scheme else metadata_path)
    raise OptionError(
        f"option metadataPath={metadata_path!r}: only local or mounted paths are supported (scheme {parsed.scheme})"
    )


def write_atomically(path: Path, data: bytes) -> None:
    """Write data to path so that readers see either nothing or all of it, even across a crash."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class DiscoveryLog:
    """The files discovered so far, in order; loaded from disk at start, appended to by segment."""

    def __init__(self, metadata_path: str) -> None:
        self.directory = local_dir(metadata_path) / "log"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.files: list[LoggedFile] = []
        self.identities: set[tuple[str, str, str]] = set()
        for segment in sorted(p for p in self.directory.iterdir() if _SEGMENT.match(p.name)):
            self._load(segment)

    def _load(self, segment: Path) -> None:
        entries = [LoggedFile(**json.loads(line)) for line in segment.read_text().splitlines() if line]
        end = int(_SEGMENT.match(segment.name).group(1))
        seqs = [e.seq for e in entries]
        if seqs != list(range(len(self.files), end)):
            raise DiscoveryLogError(f"{segment} does not continue the log at {len(self.files)}")
        self._remember(entries)

    def _remember(self, entries: list[LoggedFile]) -> None:
        self.files.extend(entries)
        self.identities.update(e.identity for e in entries)

    @property
    def end(self) -> int:
        return len(self.files)

    def append(self, events: list[ObjectEvent], discovered_at: datetime) -> list[LoggedFile]:
        """Log events (already deduplicated) durably, as the next segment; returns their entries."""
        if not events:
            return []
        entries = [LoggedFile.from_event(self.end + i, e, discovered_at) for i, e in enumerate(events)]
        body = "".join(json.dumps(asdict(e), separators=(",", ":")) + "\n" for e in entries)
        write_atomically(self.directory / f"{self.end + len(entries):020d}.jsonl", body.encode())
        self._remember(entries)
        return entries

    def between(self, start: int, end: int) -> list[LoggedFile]:
        if end > self.end:
            raise DiscoveryLogError(f"offset {end} is beyond the discovery log's end {self.end}")
        return self.files[start:end]
