"""Where state lives: URIs, a local folder by default or any Hadoop file system (`s3a://bucket/prefix`).

Delta tables and streaming checkpoints take the URI as it is (Spark and Delta reach every Hadoop file
system). The few small files sessionlake writes itself (the exporter's cursor) go through `Files`:
a local folder with POSIX's atomic rename and fsync, anything else through Hadoop's FileSystem API,
where a whole-object PUT on close (S3A) makes a replacement atomic.
"""

from __future__ import annotations

import abc
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from sessionlake.core.errors import ConfigurationError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def is_local(uri: str) -> bool:
    """A plain path or a file: URI."""
    return urlparse(uri).scheme in ("", "file")


def local_path(uri: str) -> Path:
    return Path(urlparse(uri).path if uri.startswith("file:") else uri)


def join(base: str, *parts: str) -> str:
    """A child of a location, whatever its scheme (no normalisation of the base: `s3a://b/` stays itself)."""
    return "/".join([str(base).rstrip("/"), *(p.strip("/") for p in parts)])


def normalise(uri: str) -> str:
    """A setting's location as the URI the code uses: local paths absolute, others as given."""
    return str(local_path(uri).resolve()) if is_local(uri) else uri.rstrip("/")


class Files(abc.ABC):
    """Small whole-file reads and atomic replacements at one location."""

    @abc.abstractmethod
    def read_text(self, uri: str) -> str | None:
        """The file's text, or None if there is none."""

    @abc.abstractmethod
    def replace_text(self, uri: str, text: str) -> None:
        """Write the file whole; a reader sees the old or the new text, never a part."""

    @abc.abstractmethod
    def delete(self, uri: str) -> None: ...


class LocalFiles(Files):
    def read_text(self, uri: str) -> str | None:
        try:
            return local_path(uri).read_text()
        except FileNotFoundError:
            return None

    def replace_text(self, uri: str, text: str) -> None:
        path = local_path(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def delete(self, uri: str) -> None:
        local_path(uri).unlink(missing_ok=True)


class HadoopFiles(Files):
    """Through the JVM's Hadoop FileSystem with the session's configuration (credentials, endpoint)."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark

    def _fs(self, uri: str) -> tuple[object, object]:
        jvm = self.spark.sparkContext._jvm  # noqa: SLF001 (PySpark's own gateway to the JVM)
        path = jvm.org.apache.hadoop.fs.Path(uri)
        conf = self.spark.sparkContext._jsc.hadoopConfiguration()  # noqa: SLF001
        return path.getFileSystem(conf), path

    def read_text(self, uri: str) -> str | None:
        fs, path = self._fs(uri)
        if not fs.exists(path):
            return None
        stream = fs.open(path)
        try:
            jvm = self.spark.sparkContext._jvm  # noqa: SLF001
            return bytes(jvm.org.apache.commons.io.IOUtils.toByteArray(stream)).decode()
        finally:
            stream.close()

    def replace_text(self, uri: str, text: str) -> None:
        fs, path = self._fs(uri)
        stream = fs.create(path, True)  # S3A: one PUT when the stream closes, so readers never see a part
        try:
            stream.write(bytearray(text.encode()))
        finally:
            stream.close()

    def delete(self, uri: str) -> None:
        fs, path = self._fs(uri)
        fs.delete(path, False)


def files(uri: str, spark: SparkSession | None) -> Files:
    """The file access for a location: local folders directly, other schemes through the session's Hadoop."""
    if is_local(uri):
        return LocalFiles()
    if spark is None:
        raise ConfigurationError(f"{uri} is not a local folder: it needs a Spark session's Hadoop file system")
    return HadoopFiles(spark)


def check_location(spark: SparkSession, uri: str, setting: str) -> None:
    """Fail with one message naming the setting when the location cannot be used: an unknown scheme, a
    missing bucket, refused credentials. Creates the folder when it does not exist yet."""
    jvm = spark.sparkContext._jvm  # noqa: SLF001
    conf = spark.sparkContext._jsc.hadoopConfiguration()  # noqa: SLF001
    try:
        path = jvm.org.apache.hadoop.fs.Path(uri)
        fs = path.getFileSystem(conf)
        if not fs.exists(path):
            fs.mkdirs(path)
        fs.listStatus(path)
    except Exception as exc:  # noqa: BLE001 - py4j's error carries the Java exception; its message is the point
        raise ConfigurationError(f"{setting}={uri} cannot be used: {_java_reason(exc)}") from None


def _java_reason(exc: Exception) -> str:
    java = getattr(exc, "java_exception", None)
    if java is None:
        return str(exc).splitlines()[0]
    name = java.getClass().getSimpleName()
    message = (java.getMessage() or "").splitlines()[0] if java.getMessage() else ""
    return f"{name}: {message}" if message else name
