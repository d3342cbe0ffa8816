"""Raw copies outside the lake: the records ingest reads stay in the sources' Kafka topics and landing
buckets after they reach bronze. After erasing a player from the lake and the index, `forget` deletes from
those places everything ingest has committed to bronze (SESSIONLAKE_FORGET_PURGE_RAW, default true), each
reader kind in its own way (`Reader.purge_committed`), so no raw copy of the player is left where ingest
has been (docs/pii.md, "Raw copies outside the lake"). What ingest has not committed yet is not touched: it
expires where it sits (the topic's retention.ms, the bucket's lifecycle rule), and bronze drops it through
the deny-lists meanwhile."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from pyspark.sql import SparkSession

from sessionlake.core.settings import Settings
from sessionlake.ingest.config import SourceConfig
from sessionlake.ingest.readers import reader_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RawCopy:
    where: str
    expires_by: str  # by when what is left there has expired (records ingest has not committed yet)
    purged: str | None = None  # what forget deleted there; None: nothing (purging off, or nothing committed)

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def expires_by(retention_days: int, now: datetime) -> str:
    return (now + timedelta(days=retention_days)).replace(microsecond=0).isoformat()


def unpurged(sources: list[SourceConfig], retention_days: int, now: datetime) -> list[RawCopy]:
    """Every place the sources' records may still sit, none purged."""
    until = expires_by(retention_days, now)
    places = {where for source in sources for where in reader_for(source.kind).raw_locations(source)}
    return [RawCopy(where, until) for where in sorted(places)]


def purge(settings: Settings, spark: SparkSession, sources: list[SourceConfig], now: datetime) -> list[RawCopy]:
    """Delete what ingest has committed from every source's own storage; where, and what was deleted."""
    until = expires_by(settings.privacy.bronze_retention_days, now)
    copies = []
    for source in sources:
        reader = reader_for(source.kind)
        done = reader.purge_committed(spark, settings, source, sources)
        for where in reader.raw_locations(source):
            log.info("forget: %s: %s", where, done or "nothing committed to purge")
            copies.append(RawCopy(where, until, done))
    return sorted(copies, key=lambda c: c.where)
