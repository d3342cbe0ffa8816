package org.apache.spark.sql.sessionlake.s3sqs

import java.io.FileNotFoundException
import java.nio.charset.StandardCharsets.UTF_8
import java.util.concurrent.atomic.AtomicLong

import scala.util.control.NonFatal

import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.{EtagSource, FileUtil, Path}

import org.apache.spark.internal.Logging
import org.apache.spark.util.ThreadUtils

/**
 * cleanSource: deletes (`delete`) or moves under sourceArchiveDir (`archive`) the files of committed
 * batches, so that the raw copies in the landing bucket do not outlive their ingestion. A file is cleaned
 * once the batch *after* the one that read it has committed: on restart Spark may plan the last committed
 * batch again, which stats its files. A key overwritten since it was read (another ETag) is left alone:
 * its new version is still to be read. How far it got is kept in `<metadataPath>/cleaned-up-to`, so a
 * crash cleans the rest on restart; an object already gone counts as cleaned.
 */
class SourceCleaner(options: S3SqsOptions, conf: Configuration, metadataPath: String) extends Logging {
  private val marker = new Path(metadataPath, "cleaned-up-to")
  private var cleanedSegment: Long = readMarker()
  val cleaned = new AtomicLong()
  val kept = new AtomicLong()
  val failed = new AtomicLong()

  def enabled: Boolean = options.cleanSource != "off"

  /** Clean the files of every segment up to `segment` not cleaned yet; `files` gives a segment's files
   * (None when the log no longer has it). */
  def cleanThrough(segment: Long, files: Long => Option[Array[LoggedFile]]): Unit = {
    if (!enabled || segment <= cleanedSegment) return
    val todo = (cleanedSegment + 1 to segment).flatMap(s => files(s).getOrElse(Array.empty[LoggedFile]).toSeq)
    ThreadUtils.parmap(todo, "s3-sqs-clean", Threads)(clean)
    writeMarker(segment)
    cleanedSegment = segment
    if (todo.nonEmpty) logInfo(s"s3-sqs: cleanSource=${options.cleanSource}: segments up to $segment done " +
      s"(${cleaned.get} cleaned, ${kept.get} kept as overwritten, ${failed.get} failed since start)")
  }

  private def clean(file: LoggedFile): Unit = {
    val path = S3Paths.path(file.bucket, file.key)
    try {
      val fs = path.getFileSystem(conf)
      val current = try Some(fs.getFileStatus(path)) catch { case _: FileNotFoundException => None }
      current.foreach { status =>
        val etag = status match {
          case e: EtagSource => ObjectEvent.normalizeEtag(e.getEtag)
          case _ => ""
        }
        if (file.etag.nonEmpty && etag.nonEmpty && etag != file.etag) {
          kept.incrementAndGet()
          logInfo(s"s3-sqs: cleanSource: ${file.uri} was overwritten since it was read: left for its new version")
        } else {
          options.cleanSource match {
            case "delete" => fs.delete(path, false)
            case "archive" =>
              val base = new Path(options.sourceArchiveDir.get).toUri
              val target = new Path(base.getScheme, base.getAuthority, s"${base.getPath}/${file.bucket}/${file.key}")
              FileUtil.copy(fs, path, target.getFileSystem(conf), target, true, conf)
          }
          cleaned.incrementAndGet()
        }
      }
    } catch {
      case NonFatal(e) =>
        failed.incrementAndGet()
        logWarning(s"s3-sqs: cleanSource=${options.cleanSource} failed for ${file.uri}: ${e.getMessage}")
    }
  }

  private def readMarker(): Long = try {
    val fs = marker.getFileSystem(conf)
    if (!fs.exists(marker)) -1L
    else {
      val in = fs.open(marker)
      try new String(in.readAllBytes(), UTF_8).trim.toLongOption.getOrElse(-1L) finally in.close()
    }
  } catch {
    case NonFatal(e) => logWarning(s"s3-sqs: unreadable $marker: ${e.getMessage}"); -1L
  }

  private def writeMarker(segment: Long): Unit = {
    val out = marker.getFileSystem(conf).create(marker, true)
    try out.write(segment.toString.getBytes(UTF_8)) finally out.close()
  }

  private val Threads = 32
}
