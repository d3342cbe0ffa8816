"""The source's options: parsed and validated once, when the stream is defined, so a typo fails at start."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

FILE_FORMATS = ("text", "json", "csv", "parquet")

# File reader options passed through to the format's reader (Spark's names, lower-cased).
READER_OPTIONS: dict[str, frozenset[str]] = {
    "text": frozenset({"encoding", "linesep"}),
    "json": frozenset({"encoding", "mode", "columnnameofcorruptrecord"}),
    "csv": frozenset({"header", "sep", "delimiter", "quote", "escape", "nullvalue", "encoding", "mode"}),
    "parquet": frozenset(),
}

SOURCE_OPTIONS = frozenset(
    {
        "queueurl",
        "fileformat",
        "metadatapath",
        "region",
        "endpoint",
        "maxfilespertrigger",
        "maxbytespertrigger",
        "sqsfetchinterval",
        "waittimeseconds",
        "visibilitytimeout",
        "pathglobfilter",
        "pathregexfilter",
        "prefix",
        "minpartitions",
        "maxpartitionbytes",
    }
)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|seconds?|m|min|minutes?|h|hours?)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}
_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)b?\s*$", re.IGNORECASE)


class OptionError(ValueError):
    """An option of the s3-sqs source is unknown, missing or invalid; the message names it."""


def parse_duration(name: str, value: str) -> float:
    """'5s', '500ms', '2m', or a plain number of seconds."""
    match = _DURATION.match(value)
    if not match:
        raise OptionError(f"option {name}={value!r}: expected a duration such as 5s, 500ms or 2m")
    unit = (match.group(2) or "s").lower()
    unit = {"second": "s", "seconds": "s", "minute": "m", "minutes": "m", "hour": "h", "hours": "h"}.get(unit, unit)
    return float(match.group(1)) * _UNIT_SECONDS[unit]


def parse_size(name: str, value: str) -> int:
    """'10g', '512m', '1024' (bytes)."""
    match = _SIZE.match(value)
    if not match:
        raise OptionError(f"option {name}={value!r}: expected a size such as 512m, 10g or a number of bytes")
    return int(match.group(1)) * 1024 ** " kmgt".index(match.group(2).lower() or " ")


def _int(name: str, value: str, low: int, high: int | None = None) -> int:
    try:
        number = int(value)
    except ValueError:
        raise OptionError(f"option {name}={value!r}: expected an integer") from None
    if number < low or (high is not None and number > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise OptionError(f"option {name}={value!r}: must be {bound}")
    return number


@dataclass(frozen=True)
class SourceOptions:
    queue_url: str
    file_format: str
    metadata_path: str
    region: str = "us-east-1"
    endpoint: str | None = None
    max_files_per_trigger: int = 1000
    max_bytes_per_trigger: int | None = None
    sqs_fetch_interval: float = 5.0
    wait_time_seconds: int = 1
    visibility_timeout: int | None = None
    prefix: str = ""
    path_glob_filter: str | None = None
    path_regex_filter: str | None = None
    min_partitions: int = field(default_factory=lambda: os.cpu_count() or 1)
    max_partition_bytes: int = 128 * 1024 * 1024
    reader_options: dict[str, str] = field(default_factory=dict)


def parse_options(raw: Mapping[str, str]) -> SourceOptions:
    """Validate Spark's option map (keys are case-insensitive) into SourceOptions."""
    opts = {k.lower(): v for k, v in raw.items()}
    for required in ("queueUrl", "fileFormat", "metadataPath"):
        if not opts.get(required.lower()):
            raise OptionError(f"option {required} is required by the s3-sqs source")
    file_format = opts["fileformat"].lower()
    if file_format not in FILE_FORMATS:
        raise OptionError(f"option fileFormat={opts['fileformat']!r}: supported formats are {', '.join(FILE_FORMATS)}")
    unknown = sorted(set(opts) - SOURCE_OPTIONS - READER_OPTIONS[file_format])
    if unknown:
        raise OptionError(
            f"unknown option(s) for the s3-sqs source with fileFormat={file_format}: {', '.join(unknown)}"
        )
    if "pathglobfilter" in opts and "pathregexfilter" in opts:
        raise OptionError("options pathGlobFilter and pathRegexFilter are exclusive: give one")
    if "pathregexfilter" in opts:
        try:
            re.compile(opts["pathregexfilter"])
        except re.error as exc:
            raise OptionError(f"option pathRegexFilter={opts['pathregexfilter']!r}: {exc}") from None
    settings: dict = {
        "queue_url": opts["queueurl"],
        "file_format": file_format,
        "metadata_path": opts["metadatapath"],
        "region": opts.get("region") or os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "endpoint": opts.get("endpoint") or None,
        "prefix": opts.get("prefix", ""),
        "path_glob_filter": opts.get("pathglobfilter"),
        "path_regex_filter": opts.get("pathregexfilter"),
        "reader_options": {k: v for k, v in opts.items() if k in READER_OPTIONS[file_format]},
    }
    if "maxfilespertrigger" in opts:
        settings["max_files_per_trigger"] = _int("maxFilesPerTrigger", opts["maxfilespertrigger"], 1)
    if "maxbytespertrigger" in opts:
        settings["max_bytes_per_trigger"] = parse_size("maxBytesPerTrigger", opts["maxbytespertrigger"])
    if "sqsfetchinterval" in opts:
        settings["sqs_fetch_interval"] = parse_duration("sqsFetchInterval", opts["sqsfetchinterval"])
    if "waittimeseconds" in opts:
        settings["wait_time_seconds"] = _int("waitTimeSeconds", opts["waittimeseconds"], 0, 20)
    if "visibilitytimeout" in opts:
        settings["visibility_timeout"] = _int("visibilityTimeout", opts["visibilitytimeout"], 0, 43200)
    if "minpartitions" in opts:
        settings["min_partitions"] = _int("minPartitions", opts["minpartitions"], 1)
    if "maxpartitionbytes" in opts:
        settings["max_partition_bytes"] = parse_size("maxPartitionBytes", opts["maxpartitionbytes"])
    mode = settings["reader_options"].get("mode", "PERMISSIVE").upper()
    if mode not in ("PERMISSIVE", "DROPMALFORMED", "FAILFAST"):
        raise OptionError(f"option mode={mode!r}: expected PERMISSIVE, DROPMALFORMED or FAILFAST")
    return SourceOptions(**settings)
