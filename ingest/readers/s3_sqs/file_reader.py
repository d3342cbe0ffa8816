"""Turning one object's bytes into Arrow record batches of the stream's schema (pyarrow readers).

Malformed input follows Spark's `mode` option: PERMISSIVE (default) keeps the row with nulls and the
raw line in the corrupt-record column when the schema has one, DROPMALFORMED drops it, FAILFAST fails
the batch naming the file and line.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.json as pjson
import pyarrow.parquet as pq

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_CODECS = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd", ".lz4": "lz4"}


class MalformedFileError(ValueError):
    """A record could not be parsed and mode=FAILFAST."""


def decompress(key: str, data: bytes) -> bytes:
    """Decompress by file extension (.gz, .bz2, .zst, .lz4), as Hadoop codecs do; other files as is."""
    for suffix, codec in _CODECS.items():
        if key.lower().endswith(suffix):
            return pa.CompressedInputStream(pa.BufferReader(data), codec).read()
    return data


@dataclass(frozen=True)
class FormatReader:
    """Parses file contents of one format into a table with the (data) schema of the stream."""

    file_format: str
    schema: pa.Schema  # the user's columns, without the _file_* metadata columns
    options: dict[str, str]

    @property
    def mode(self) -> str:
        return self.options.get("mode", "PERMISSIVE").upper()

    @property
    def corrupt_column(self) -> str | None:
        name = self.options.get("columnnameofcorruptrecord", "_corrupt_record")
        return name if name in self.schema.names else None

    def read(self, uri: str, key: str, data: bytes) -> pa.Table:
        if self.file_format == "parquet":
            return self._parquet(data)
        data = decompress(key, data)
        if self.file_format == "text":
            return self._text(data)
        if self.file_format == "csv":
            return self._csv(uri, data)
        return self._json(uri, data)

    def _text(self, data: bytes) -> pa.Table:
        text = data.decode(self.options.get("encoding", "utf-8"), errors="replace")
        separator = self.options.get("linesep")
        lines = text.split(separator) if separator else _LINE_BREAK.split(text)
        if lines and lines[-1] == "":
            lines.pop()
        return pa.table({self.schema.names[0]: pa.array(lines, pa.string())})

    def _json(self, uri: str, data: bytes) -> pa.Table:
        parsed_schema = pa.schema([f for f in self.schema if f.name != self.corrupt_column])
        options = pjson.ParseOptions(explicit_schema=parsed_schema, unexpected_field_behavior="ignore")
        try:
            table = pjson.read_json(io.BytesIO(data), parse_options=options)
        except pa.ArrowInvalid:
            return self._json_by_line(uri, data, options)
        return self._conform(table)

    def _json_by_line(self, uri: str, data: bytes, options: pjson.ParseOptions) -> pa.Table:
        """The slow path for a file with malformed lines: parse line by line to isolate them."""
        tables = []
        for number, line in enumerate(data.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                table = self._conform(pjson.read_json(io.BytesIO(line), parse_options=options))
            except pa.ArrowInvalid as exc:
                if self.mode == "FAILFAST":
                    raise MalformedFileError(f"{uri} line {number}: malformed JSON record ({exc})") from None
                if self.mode == "DROPMALFORMED":
                    continue
                table = self._corrupt_row(line.decode("utf-8", errors="replace"))
            tables.append(table)
        return pa.concat_tables(tables) if tables else self.schema.empty_table()

    def _corrupt_row(self, raw: str) -> pa.Table:
        columns = {f.name: pa.nulls(1, f.type) for f in self.schema}
        if self.corrupt_column:
            columns[self.corrupt_column] = pa.array([raw], pa.string())
        return pa.table(columns, schema=self.schema)

    def _csv(self, uri: str, data: bytes) -> pa.Table:
        header = self.options.get("header", "false").lower() == "true"
        names = [f.name for f in self.schema if f.name != self.corrupt_column]
        read = pcsv.ReadOptions(column_names=names, skip_rows=1 if header else 0)
        delimiter = self.options.get("sep", self.options.get("delimiter", ","))
        escape = self.options.get("escape")
        malformed: list[str] = []

        def on_invalid_row(row: pcsv.InvalidRow) -> str:
            if self.mode == "FAILFAST":
                return "error"
            malformed.append(row.text)
            return "skip"

        parse = pcsv.ParseOptions(
            delimiter=delimiter,
            quote_char=self.options.get("quote", '"'),
            escape_char=escape or False,
            invalid_row_handler=on_invalid_row,
        )
        convert = pcsv.ConvertOptions(
            column_types={f.name: f.type for f in self.schema if f.name in names},
            null_values=[self.options.get("nullvalue", "")],
            strings_can_be_null=True,
        )
        try:
            table = pcsv.read_csv(io.BytesIO(data), read_options=read, parse_options=parse, convert_options=convert)
        except pa.ArrowInvalid as exc:
            raise MalformedFileError(f"{uri}: malformed CSV ({exc})") from None
        tables = [self._conform(table)]
        if self.mode == "PERMISSIVE":
            tables += [self._corrupt_row(raw) for raw in malformed]
        return pa.concat_tables(tables)

    def _parquet(self, data: bytes) -> pa.Table:
        parquet = pq.ParquetFile(io.BytesIO(data))
        present = [name for name in self.schema.names if name in parquet.schema_arrow.names]
        return self._conform(parquet.read(columns=present))

    def _conform(self, table: pa.Table) -> pa.Table:
        """Select the schema's columns in order, nulls for absent ones, cast to the schema's types."""
        columns = [
            table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(len(table), f.type)
            for f in self.schema
        ]
        return pa.Table.from_arrays(columns, schema=self.schema)


def batches_with_file_columns(table: pa.Table, file_columns: dict[str, pa.Scalar]) -> Iterator[pa.RecordBatch]:
    """The table's batches with the constant _file_* columns appended."""
    for batch in table.to_batches():
        extra = [pa.repeat(value, batch.num_rows) for value in file_columns.values()]
        yield pa.RecordBatch.from_arrays(batch.columns + extra, names=batch.schema.names + list(file_columns))
