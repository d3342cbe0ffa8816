"""Everything checked before a stream starts: schema, UDFs, the transform and routes, the tables.

The transform and each target are analysed against an empty batch of the source's shape, so a typo
in SQL or a column that does not exist fails at start with the file and key, not mid-stream.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import BinaryType, StringType, StructField, StructType

from sessionlake.core import storage
from sessionlake.core.settings import Settings
from sessionlake.ingest.config import SourceConfig, SourceConfigError
from sessionlake.ingest.parsing import REASON, parse
from sessionlake.ingest.readers import reader_for
from sessionlake.ingest.routing import CARRIED, INTERNAL, Route, transform
from sessionlake.ingest.schema import RecordRules, SchemaError, record_rules
from sessionlake.ingest.tables import (
    BRONZE,
    INGEST_COLUMNS,
    QUARANTINE,
    QUARANTINE_SCHEMA,
    TableSchemaError,
    ensure_table,
)


@dataclass(frozen=True)
class PreparedSource:
    config: SourceConfig
    rules: RecordRules
    routes: list[Route]
    checkpoint: str  # URI

    @property
    def name(self) -> str:
        return self.config.name


def envelope_schema(kind: str) -> StructType:
    """The columns a reader hands to the writer (see ingest.readers)."""
    metadata = reader_for(kind).metadata
    return StructType(
        [
            StructField("_value", StringType()),
            StructField("_raw_bytes", BinaryType()),
            StructField("_coordinates", StringType()),
            *metadata.fields,
        ]
    )


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]


def register_udfs(spark: SparkSession, source: SourceConfig) -> list[str]:
    problems = []
    for i, udf in enumerate(source.udfs):
        module, _, attr = udf.function.partition(":")
        try:
            function = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            problems.append(f"{source.file}: udfs[{i}].function: cannot import {udf.function!r}: {exc}")
            continue
        try:
            spark.udf.register(udf.name, function, udf.return_type)
        except (PySparkException, ValueError, TypeError) as exc:
            problems.append(f"{source.file}: udfs[{i}]: cannot register {udf.name!r}: {_first_line(exc)}")
    return problems


def _routes(settings: Settings, source: SourceConfig, output: DataFrame) -> tuple[list[Route], list[str]]:
    problems = []
    available = [c for c in output.columns if c not in INTERNAL]
    carried = [c for c in available if c.startswith("_")]
    routes = []
    for i, target in enumerate(source.targets):
        if target.columns:
            missing = [c for c in target.columns if c not in available]
            if missing:
                problems.append(
                    f"{source.file}: targets[{i}].columns: {missing} not in the batch ({', '.join(available)})"
                )
                continue
            columns = tuple(dict.fromkeys([*target.columns, *carried]))
        else:
            columns = tuple(available)
        route = Route(target.table, settings.bronze_path(target.table), target.where, columns)
        try:
            output.where(route.predicate()).select(*columns).schema  # noqa: B018 - analysis only
        except PySparkException as exc:
            problems.append(f"{source.file}: targets[{i}].where: {_first_line(exc)}")
            continue
        routes.append(route)
    return routes, problems


def prepare_source(spark: SparkSession, settings: Settings, source: SourceConfig) -> PreparedSource:
    """Validate one source against Spark and create (or evolve) its tables; SourceConfigError names file and key."""
    try:
        rules = record_rules(source)
    except SchemaError as exc:
        raise SourceConfigError([f"{source.file}: {exc}"]) from exc
    problems = register_udfs(spark, source)
    if problems:
        raise SourceConfigError(problems)
    empty = spark.createDataFrame([], envelope_schema(source.kind))
    good = parse(empty, rules).where(F.col(REASON).isNull()).drop(REASON)
    try:
        output = transform(good, source.transform)
        output.schema  # noqa: B018 - forces analysis
    except PySparkException as exc:
        raise SourceConfigError([f"{source.file}: transform: {_first_line(exc)}"]) from exc
    dropped = [c for c in (*CARRIED, *envelope_schema(source.kind).fieldNames()[3:]) if c not in output.columns]
    if dropped:
        raise SourceConfigError([f"{source.file}: transform: the SELECT must keep the metadata columns {dropped} "
                           "(select `*` and add or replace columns)"])  # fmt: skip
    routes, problems = _routes(settings, source, output)
    if problems:
        raise SourceConfigError(problems)
    for route in routes:
        schema = StructType([*output.select(*route.columns).schema.fields, *INGEST_COLUMNS.fields])
        try:
            ensure_table(spark, route.name, route.path, schema, pii=source.pii)
        except TableSchemaError as exc:
            raise SourceConfigError([f"{source.file}: schema: {exc}"]) from exc
    checkpoint = storage.join(settings.checkpoints, source.name)
    reader_for(source.kind).register_views(spark, source.name, checkpoint)
    return PreparedSource(source, rules, routes, checkpoint)


def prepare(spark: SparkSession, settings: Settings, sources: list[SourceConfig]) -> list[PreparedSource]:
    """All sources, with every source's problems reported together; also creates bronze.quarantine."""
    prepared, problems = [], []
    for source in sources:
        try:
            prepared.append(prepare_source(spark, settings, source))
        except SourceConfigError as exc:
            problems += exc.problems
    if problems:
        raise SourceConfigError(problems)
    ensure_table(spark, f"{BRONZE}.{QUARANTINE}", settings.bronze_path(QUARANTINE), QUARANTINE_SCHEMA)
    return prepared
