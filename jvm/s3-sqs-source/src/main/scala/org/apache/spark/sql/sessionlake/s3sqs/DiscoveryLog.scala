package org.apache.spark.sql.sessionlake.s3sqs

import java.io.{BufferedReader, InputStream, InputStreamReader, OutputStream}
import java.nio.charset.StandardCharsets.UTF_8

import scala.collection.mutable.ArrayBuffer

import org.json4s.{DefaultFormats, Formats}
import org.json4s.jackson.Serialization

import org.apache.hadoop.fs.Path

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

/** One announced or listed object the source did not read, and why (the file ledger's skipped rows). */
case class SkippedFile(
    bucket: String,
    key: String, // "" for a foreign message, which names no object
    size: Long,
    etag: String,
    versionId: Option[String],
    eventTimeMs: Long,
    skippedAtMs: Long,
    reason: String, // one of the reasons below
    detail: String)

object SkippedFile {
  val Filtered = "filtered"
  val Duplicate = "duplicate"
  val Foreign = "foreign message"
  val Unreadable = "unreadable key"
  val Missing = "missing"

  def of(e: ObjectEvent, at: Long, reason: String, detail: String): SkippedFile =
    SkippedFile(e.bucket, e.key, e.size, e.etag, e.versionId, e.eventTimeMs, at, reason, detail)
}

/**
 * A log of batches of JSON records, on Spark's HDFSMetadataLog (the log behind FileStreamSource and the
 * checkpoint's offsets): a batch is written atomically through Spark's CheckpointFileManager, on any
 * Hadoop file system the checkpoint lives on, S3 included. File format: a version line, then one JSON
 * object per record, so the files are readable as text by Spark SQL (the file ledger, docs/ingest.md).
 */
class JsonLinesLog[E <: AnyRef](session: SparkSession, path: String, version: Int)(implicit manifest: Manifest[E])
  extends HDFSMetadataLog[Array[E]](session, path) {

  private implicit val formats: Formats = DefaultFormats

  override def serialize(records: Array[E], out: OutputStream): Unit = {
    out.write(s"v$version".getBytes(UTF_8))
    records.foreach { r =>
      out.write('\n')
      out.write(Serialization.write(r).getBytes(UTF_8))
    }
  }

  override def deserialize(in: InputStream): Array[E] = {
    val lines = new BufferedReader(new InputStreamReader(in, UTF_8))
    validateVersion(Option(lines.readLine()).getOrElse(
      throw new IllegalStateException(s"an empty log file in $path")), version)
    val records = ArrayBuffer[E]()
    var line = lines.readLine()
    while (line != null) {
      if (line.nonEmpty) records += Serialization.read[E](line)
      line = lines.readLine()
    }
    records.toArray
  }
}

/** The durable discovery log: batch id N (a "segment") holds the files discovered by one discovery
 * step, and the source's offsets are segment ids. */
class DiscoveryLog(session: SparkSession, path: String) extends JsonLinesLog[LoggedFile](session, path, 1)

/** What the source did not read, beside the discovery log (`<metadataPath>-skipped`): batch ids are the
 * skip time in milliseconds, so retention purges by time without reading the files. */
class SkipLog(session: SparkSession, path: String) extends JsonLinesLog[SkippedFile](session, path, 1) {
  private var lastId = getLatestBatchId().getOrElse(-1L)

  def record(skipped: Seq[SkippedFile]): Unit = if (skipped.nonEmpty) {
    var id = math.max(System.currentTimeMillis(), lastId + 1)
    while (!add(id, skipped.toArray)) id += 1 // another writer took the id: the next one
    lastId = id
  }

  /** Forget what was skipped before `horizonMs`: HDFSMetadataLog.purge walks every id from the first,
   * which is no way to walk milliseconds, so the expired files are listed and deleted here. */
  def expire(horizonMs: Long): Unit = {
    val dir = new Path(path)
    val fs = dir.getFileSystem(session.sessionState.newHadoopConf())
    if (fs.exists(dir)) {
      fs.listStatus(dir).map(_.getPath).filter(p => p.getName.toLongOption.exists(_ < horizonMs))
        .foreach(p => fs.delete(p, false))
    }
  }
}
