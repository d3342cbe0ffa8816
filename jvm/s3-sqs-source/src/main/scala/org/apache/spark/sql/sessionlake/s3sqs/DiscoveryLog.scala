package org.apache.spark.sql.sessionlake.s3sqs

import java.io.{BufferedReader, InputStream, InputStreamReader, OutputStream}
import java.nio.charset.StandardCharsets.UTF_8

import scala.collection.mutable.ArrayBuffer

import org.json4s.{DefaultFormats, Formats}
import org.json4s.jackson.Serialization

import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.execution.streaming.checkpointing.HDFSMetadataLog

/** One file the source will read, as logged. */
case class LoggedFile(
    bucket: String,
    key: String,
    size: Long,
    etag: String,
    versionId: Option[String],
    sequencer: Option[String],
    eventTimeMs: Long, // the notification's event time (a listed file: its modification time)
    discoveredAtMs: Long,
    origin: String) { // "sqs", "initial-listing" or "backfill-listing"

  def identity: String = ObjectEvent.identity(bucket, key, versionId, etag, sequencer)
  def uri: String = S3Paths.decoded(bucket, key)
}

object LoggedFile {
  def of(e: ObjectEvent, discoveredAtMs: Long, origin: String): LoggedFile =
    LoggedFile(e.bucket, e.key, e.size, e.etag, e.versionId, e.sequencer, e.eventTimeMs, discoveredAtMs, origin)
}

/**
 * The durable discovery log: batch id N (a "segment") holds the files discovered by one discovery
 * step, and the source's offsets are segment ids. It is Spark's HDFSMetadataLog (the log behind
 * FileStreamSource and the checkpoint's offsets), so a segment is written atomically through Spark's
 * CheckpointFileManager and it works on any Hadoop file system the checkpoint lives on, S3 included.
 * File format: a version line, then one JSON object per file.
 */
class DiscoveryLog(session: SparkSession, path: String)
  extends HDFSMetadataLog[Array[LoggedFile]](session, path) {

  private implicit val formats: Formats = DefaultFormats

  override def serialize(files: Array[LoggedFile], out: OutputStream): Unit = {
    out.write(s"v${DiscoveryLog.Version}".getBytes(UTF_8))
    files.foreach { f =>
      out.write('\n')
      out.write(Serialization.write(f).getBytes(UTF_8))
    }
  }

  override def deserialize(in: InputStream): Array[LoggedFile] = {
    val lines = new BufferedReader(new InputStreamReader(in, UTF_8))
    validateVersion(Option(lines.readLine()).getOrElse(
      throw new IllegalStateException(s"an empty discovery log segment in $path")), DiscoveryLog.Version)
    val files = ArrayBuffer[LoggedFile]()
    var line = lines.readLine()
    while (line != null) {
      if (line.nonEmpty) files += Serialization.read[LoggedFile](line)
      line = lines.readLine()
    }
    files.toArray
  }
}

object DiscoveryLog {
  val Version = 1
}
