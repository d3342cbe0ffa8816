package org.apache.spark.sql.sessionlake.s3sqs

import java.io.FileNotFoundException
import java.util.{Optional, Locale}

import scala.collection.mutable
import scala.collection.mutable.ArrayBuffer
import scala.jdk.CollectionConverters._
import scala.util.control.NonFatal

import org.apache.hadoop.fs.{EtagSource, FileStatus, Path}

import org.apache.spark.internal.Logging
import org.apache.spark.sql.{functions => F, DataFrame}
import org.apache.spark.sql.classic.{Dataset, SparkSession}
import org.apache.spark.sql.connector.read.streaming.{CompositeReadLimit, Offset => OffsetV2, ReadAllAvailable, ReadLimit, ReadMaxBytes, ReadMaxFiles, ReportsSourceMetrics, SupportsAdmissionControl, SupportsTriggerAvailableNow}
import org.apache.spark.sql.execution.datasources.{FileFormat, HadoopFsRelation, LogicalRelation}
import org.apache.spark.sql.execution.streaming.{Offset, Source}
import org.apache.spark.sql.execution.streaming.checkpointing.{CommitLog, OffsetSeqLog}
import org.apache.spark.sql.execution.streaming.runtime.{LongOffset, SerializedOffset}
import org.apache.spark.sql.types.{LongType, StringType, StructField, StructType}
import org.apache.spark.util.ThreadUtils

/**
 * The `s3-sqs` source. Offsets are segment ids of the discovery log (-1: nothing yet).
 *
 *  - latestOffset: if segments were logged beyond `start` (a crash between logging and Spark's offset
 *    write, or more than one trigger's worth), returns the next ones within the read limit; otherwise
 *    receives SQS messages, drops files filtered out and object versions already logged, and logs the
 *    new files durably as the next segment before returning it.
 *  - getBatch: the files of the segments (start, end], read with Spark's own FileFormat for fileFormat,
 *    plus the lineage columns.
 *  - commit / the checkpoint's commit log: messages are deleted once every file they announced lies in a
 *    committed batch.
 */
class S3SqsSource(
    session: SparkSession,
    metadataPath: String,
    options: S3SqsOptions,
    dataSchema: StructType,
    fileFormat: FileFormat)
  extends Source
  with SupportsAdmissionControl
  with SupportsTriggerAvailableNow
  with ReportsSourceMetrics
  with Logging {

  import S3SqsSource._

  private val discoveryLog = new DiscoveryLog(session, metadataPath)
  private val skipLog = new SkipLog(session, metadataPath + SkipLogSuffix)
  private lazy val queue = new SqsQueue(options)
  private val hadoopConf = session.sessionState.newHadoopConf()
  private val cleaner = new SourceCleaner(options, hadoopConf, metadataPath)

  // object identity -> segment that logged it, for the files discovered within dedupeRetention
  private val identities = mutable.HashMap[String, Long]()
  // segment -> its discovery time, for the segments still retained (identities, purge)
  private val segmentTimes = mutable.TreeMap[Long, Long]()
  // segments not yet committed: their files (getBatch reads older ones back from the log)
  private val recent = mutable.TreeMap[Long, Array[LoggedFile]]()
  // receipt handles to delete once the segment is committed
  private val pending = mutable.TreeMap[Long, ArrayBuffer[String]]()
  private var latestSegment = -1L
  private var committedSegment = -1L
  private var previouslyCommitted = -1L // the end of the batch before the last committed one
  private var idleUntil = 0L
  private var availableNow = false
  private var drained = false
  private var commitsSincePurge = 0
  private val backfillState = new Path(metadataPath, "last-listing")
  private var nextBackfillAt: Option[Long] = None
  private var listedBefore = false // a listing ran on this checkpoint (kept in last-listing)

  // metrics (this run)
  private val counters = mutable.LinkedHashMap(
    "duplicateNotifications" -> 0L, "foreignMessages" -> 0L, "filteredFiles" -> 0L,
    "listedFiles" -> 0L, "backfilledFiles" -> 0L, "missingFiles" -> 0L, "unreadableKeys" -> 0L)
  private val batchStats = mutable.LinkedHashMap[Long, Map[String, String]]()

  load()

  private def load(): Unit = {
    val now = System.currentTimeMillis()
    checkpointCommits().foreach { case (last, previous) =>
      committedSegment = last
      previouslyCommitted = previous
    }
    discoveryLog.get(None, None).foreach { case (segment, files) =>
      latestSegment = math.max(latestSegment, segment)
      val discoveredAt = if (files.isEmpty) now else files.map(_.discoveredAtMs).max
      if (discoveredAt >= now - options.dedupeRetentionMs) {
        segmentTimes(segment) = discoveredAt
        files.foreach(f => identities(f.identity) = segment)
      }
      if (segment > committedSegment) recent(segment) = files
    }
    val listedAt = lastListing()
    listedBefore = listedAt.isDefined
    nextBackfillAt = options.backfillIntervalMs.map(_ + listedAt.getOrElse(now))
    logInfo(s"s3-sqs: ${options.queueUrl}: discovery log at segment $latestSegment, " +
      s"committed $committedSegment, ${identities.size} object versions retained for deduplication")
    // what expired while the query was down goes now, not after the next PurgeEveryCommits commits
    try {
      cleanCommitted()
      purge()
    } catch {
      case NonFatal(e) => logWarning(s"s3-sqs: cleaning up $metadataPath at start", e)
    }
  }

  override def schema: StructType = S3SqsSource.withFileColumns(dataSchema)

  override def getOffset: Option[Offset] =
    throw new UnsupportedOperationException("latestOffset(start, limit) is used instead")

  override def getDefaultReadLimit: ReadLimit = options.maxBytesPerTrigger match {
    case Some(bytes) => ReadLimit.compositeLimit(
      Array(ReadLimit.maxFiles(options.maxFilesPerTrigger), ReadLimit.maxBytes(bytes)))
    case None => ReadLimit.maxFiles(options.maxFilesPerTrigger)
  }

  override def prepareForTriggerAvailableNow(): Unit = synchronized {
    availableNow = true
    drained = false
  }

  override def latestOffset(start: OffsetV2, limit: ReadLimit): OffsetV2 = synchronized {
    val startSegment = segmentOf(start)
    val (maxFiles, maxBytes) = limits(limit)
    syncCommitted()
    expire()
    if (options.initialListing && !listedBefore && latestSegment < 0 && committedSegment < 0) {
      val found = list(sinceMs = None, origin = "initial-listing")
      counters("listedFiles") += found
    }
    if (nextBackfillAt.exists(_ <= System.currentTimeMillis())) {
      val found = list(sinceMs = Some(System.currentTimeMillis() - options.backfillLookbackMs),
        origin = "backfill-listing")
      counters("backfilledFiles") += found
      if (found > 0) logWarning(s"s3-sqs: the backfill listing found $found file(s) never announced on " +
        s"${options.queueUrl}: notifications were lost or are not configured for them")
    }
    if (latestSegment <= startSegment && !(availableNow && drained) &&
        System.currentTimeMillis() >= idleUntil) {
      poll(maxFiles, maxBytes)
    }
    if (latestSegment <= startSegment) {
      if (startSegment < 0) null else LongOffset(startSegment)
    } else {
      // the logged segments after start, within the limit (at least one)
      var end = startSegment + 1
      var files = filesOf(end).length.toLong
      var bytes = filesOf(end).map(_.size).sum
      while (end < latestSegment && {
        val next = filesOf(end + 1)
        files + next.length <= maxFiles && bytes + next.map(_.size).sum <= maxBytes
      }) {
        end += 1
        files += filesOf(end).length
        bytes += filesOf(end).map(_.size).sum
      }
      LongOffset(end)
    }
  }

  /** Receive notifications until a trigger's worth of new files is logged or the queue looks empty. */
  private def poll(maxFiles: Long, maxBytes: Long): Unit = {
    val now = System.currentTimeMillis()
    val newFiles = ArrayBuffer[LoggedFile]()
    val newIdentities = mutable.HashSet[String]()
    var newBytes = 0L
    val acknowledge = ArrayBuffer[String]()
    val carrying = ArrayBuffer[String]()
    val skipped = ArrayBuffer[SkippedFile]()
    var empty = false
    while (!empty && newFiles.size < maxFiles && newBytes < maxBytes) {
      // no more messages than files still wanted: a trigger exceeds maxFilesPerTrigger by at most the
      // other records of one message
      val messages = queue.receive(math.min(queue.Batch.toLong, maxFiles - newFiles.size).toInt)
      if (messages.isEmpty) empty = true
      messages.foreach { message =>
        try {
          val parsed = Notifications.parse(message.body())
          val (accepted, filtered) = parsed.created.partition(e => options.accepts(e.bucket, e.key))
          counters("filteredFiles") += filtered.size
          filtered.foreach(e => skipped += SkippedFile.of(e, now, SkippedFile.Filtered,
            s"outside ${options.bucket.getOrElse("*")}/${options.prefix}* or the path filters"))
          // A key no s3a path addresses exactly ('//', './', '../') would read another object, or none:
          // its message stays on the queue for the redrive policy (the dead-letter queue), like a foreign one.
          val (wanted, unreadable) = accepted.partition(e => S3Paths.addressable(e.bucket, e.key))
          if (unreadable.nonEmpty) {
            counters("unreadableKeys") += unreadable.size
            unreadable.foreach(e => skipped += SkippedFile.of(e, now, SkippedFile.Unreadable,
              s"message ${message.messageId()} left for the dead-letter queue: Hadoop paths fold '//', './' and '../'"))
            val receives = Option(message.attributesAsStrings().get("ApproximateReceiveCount")).getOrElse("?")
            logWarning(s"s3-sqs: leaving message ${message.messageId()} on ${options.queueUrl} for its redrive " +
              s"policy (received $receives times): ${unreadable.map(e => s"s3://${e.bucket}/${e.key}").mkString(", ")}" +
              " cannot be read exactly: Hadoop paths fold '//' and drop './' and '../' segments")
          }
          var hasNew = false
          var loggedIn = -1L
          wanted.foreach { event =>
            val id = event.identity
            identities.get(id) match {
              case Some(segment) =>
                counters("duplicateNotifications") += 1
                skipped += SkippedFile.of(event, now, SkippedFile.Duplicate, s"this version was logged in segment $segment")
                loggedIn = math.max(loggedIn, segment)
              case None if newIdentities.contains(id) =>
                counters("duplicateNotifications") += 1
                skipped += SkippedFile.of(event, now, SkippedFile.Duplicate, "this version was announced twice in one poll")
                hasNew = true
              case None =>
                newIdentities += id
                newFiles += LoggedFile.of(event, now, "sqs")
                newBytes += event.size
                hasNew = true
            }
          }
          if (unreadable.nonEmpty) () // left for the redrive policy; its readable files are logged meanwhile
          else if (hasNew) carrying += message.receiptHandle()
          else if (loggedIn > committedSegment) pendingFor(loggedIn) += message.receiptHandle()
          else acknowledge += message.receiptHandle()
        } catch {
          case foreign: ForeignMessage =>
            counters("foreignMessages") += 1
            val receives = Option(message.attributesAsStrings().get("ApproximateReceiveCount")).getOrElse("?")
            skipped += SkippedFile("", "", 0L, "", None, now, now, SkippedFile.Foreign,
              s"message ${message.messageId()} (received $receives times): ${foreign.getMessage}")
            logWarning(s"s3-sqs: leaving message ${message.messageId()} on ${options.queueUrl} for its " +
              s"redrive policy (received $receives times): ${foreign.getMessage}")
        }
      }
    }
    CrashPoints.reach("before_discovery")
    if (newFiles.nonEmpty) {
      val segment = append(newFiles.toArray)
      pendingFor(segment) ++= carrying
      CrashPoints.reach("after_discovery")
    }
    queue.delete(acknowledge.toSeq)
    recordSkipped(skipped.toSeq)
    if (empty) {
      idleUntil = System.currentTimeMillis() + options.sqsFetchIntervalMs
      if (availableNow) drained = true
    }
  }

  /** The skipped files go to the file ledger; failing to write them never fails the stream. */
  private def recordSkipped(skipped: Seq[SkippedFile]): Unit = try skipLog.record(skipped) catch {
    case NonFatal(e) => logWarning(s"s3-sqs: could not record ${skipped.size} skipped file(s) in the file ledger", e)
  }

  private def pendingFor(segment: Long): ArrayBuffer[String] = pending.getOrElseUpdate(segment, ArrayBuffer())

  /** Log files durably as the next segment; returns its id. */
  private def append(files: Array[LoggedFile]): Long = {
    val segment = latestSegment + 1
    if (!discoveryLog.add(segment, files)) {
      throw new IllegalStateException(s"s3-sqs: discovery log segment $segment of $metadataPath exists " +
        "already: is another query using the same checkpoint?")
    }
    latestSegment = segment
    recent(segment) = files
    segmentTimes(segment) = files.map(_.discoveredAtMs).max
    files.foreach(f => identities(f.identity) = segment)
    segment
  }

  /** When the last listing (initial or backfill) started, as kept in metadataPath/last-listing. */
  private def lastListing(): Option[Long] = try {
    val fs = backfillState.getFileSystem(hadoopConf)
    if (!fs.exists(backfillState)) None
    else {
      val in = fs.open(backfillState)
      try new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).trim.toLongOption
      finally in.close()
    }
  } catch {
    case NonFatal(e) => logWarning(s"s3-sqs: unreadable $backfillState: ${e.getMessage}"); None
  }

  private def recordListing(at: Long): Unit = {
    val out = backfillState.getFileSystem(hadoopConf).create(backfillState, true)
    try out.write(at.toString.getBytes(java.nio.charset.StandardCharsets.UTF_8)) finally out.close()
    listedBefore = true
    nextBackfillAt = options.backfillIntervalMs.map(at + _)
  }

  /** List bucket/prefix (files modified since `sinceMs`, if given) and log the files not logged yet, in
   * segments of maxFilesPerTrigger. Returns how many were logged. */
  private def list(sinceMs: Option[Long], origin: String): Int = {
    val bucket = options.bucket.get
    val dir = options.prefix.substring(0, options.prefix.lastIndexOf('/') + 1)
    val root = S3Paths.path(bucket, dir)
    val now = System.currentTimeMillis()
    val found = ArrayBuffer[LoggedFile]()
    val seen = mutable.HashSet[String]()
    try {
      val files = root.getFileSystem(hadoopConf).listFiles(root, true)
      while (files.hasNext) {
        val status = files.next()
        val key = S3Paths.keyOf(status.getPath)
        if (status.isFile && options.accepts(bucket, key) && sinceMs.forall(status.getModificationTime >= _)) {
          val etag = status match {
            case e: EtagSource => ObjectEvent.normalizeEtag(e.getEtag)
            case _ => ""
          }
          val event = ObjectEvent(bucket, key, status.getLen, etag, None, None, status.getModificationTime)
          if (!identities.contains(event.identity) && seen.add(event.identity)) {
            found += LoggedFile.of(event, now, origin)
          }
        }
      }
    } catch {
      case _: FileNotFoundException => // nothing under the prefix yet
    }
    found.grouped(options.maxFilesPerTrigger).foreach(chunk => append(chunk.toArray))
    recordListing(now)
    if (found.nonEmpty) logInfo(s"s3-sqs: $origin of $root logged ${found.size} file(s)")
    found.size
  }

  private def filesOf(segment: Long): Array[LoggedFile] = recent.getOrElse(segment, discoveryLog.get(segment).getOrElse(
    throw new IllegalStateException(s"s3-sqs: discovery log segment $segment is missing from $metadataPath")))

  override def getBatch(start: Option[Offset], end: Offset): DataFrame = synchronized {
    val startSegment = start.map(segmentOf).getOrElse(-1L)
    val endSegment = segmentOf(end)
    // A key announced twice in a batch (two versions: it was overwritten) is read once, as it is now.
    val files = (startSegment + 1 to endSegment).flatMap(s => filesOf(s).toSeq)
      .groupBy(_.uri).values.map(_.maxBy(_.eventTimeMs)).toSeq.sortBy(f => (f.eventTimeMs, f.uri))
    val plannedAt = System.currentTimeMillis()
    val ignoreMissing = options.readerOptions.collectFirst {
      case (k, v) if k.equalsIgnoreCase("ignoreMissingFiles") => v.trim.toBoolean
    }.getOrElse(session.sessionState.conf.ignoreMissingFiles)
    val statuses = ThreadUtils.parmap(files, "s3-sqs-stat", StatThreads) { file =>
      val path = S3Paths.path(file.bucket, file.key)
      try {
        val status = path.getFileSystem(hadoopConf).getFileStatus(path)
        Some(new FileStatus(status.getLen, false, 1, status.getBlockSize, status.getModificationTime, path))
      } catch {
        case _: FileNotFoundException => None
      }
    }
    val missing = files.zip(statuses).collect { case (f, None) => f.uri }
    if (missing.nonEmpty) {
      if (!ignoreMissing) {
        throw new FileNotFoundException(s"${missing.head} was deleted before it was read" +
          (if (missing.size > 1) s" (and ${missing.size - 1} more file(s) of this batch)" else "") +
          "; set spark.sql.files.ignoreMissingFiles=true to skip such files")
      }
      missing.foreach(uri => logWarning(s"s3-sqs: skipping $uri, deleted before it was read"))
      val now = System.currentTimeMillis()
      recordSkipped(files.zip(statuses).collect { case (f, None) =>
        SkippedFile(f.bucket, f.key, f.size, f.etag, f.versionId, f.eventTimeMs, now, SkippedFile.Missing,
          s"deleted before the batch of segments ${startSegment + 1}..$endSegment read it")
      })
    }
    val latencies = files.map(f => math.max(0L, plannedAt - f.eventTimeMs)).sorted
    batchStats(endSegment) = Map(
      "batchFiles" -> files.size.toString,
      "batchBytes" -> files.map(_.size).sum.toString,
      "batchMissingFiles" -> missing.size.toString,
      "discoveryLatencyP50Ms" -> (if (latencies.isEmpty) "" else latencies(latencies.size / 2).toString),
      "discoveryLatencyMaxMs" -> latencies.lastOption.map(_.toString).getOrElse(""))
    while (batchStats.size > 16) batchStats.remove(batchStats.head._1)
    counters("missingFiles") += missing.size
    frame(files.zip(statuses).collect { case (f, Some(s)) => (f, s) })
  }

  /** The files read by Spark's FileFormat for fileFormat (a streaming LogicalRelation, as Spark's own
   * FileStreamSource builds), with `_file_size` and `_file_modification_time` from Spark's `_metadata`
   * column, and the decoded `_file_path` and `_file_event_time` looked up from the log by the file path
   * (a map literal rather than a join: the plan keeps one leaf, so the progress counts input rows). */
  private def frame(files: Seq[(LoggedFile, FileStatus)]): DataFrame = {
    val relation = HadoopFsRelation(
      location = new LoggedFilesIndex(files.map(_._2)),
      partitionSchema = new StructType(),
      dataSchema = dataSchema,
      bucketSpec = None,
      fileFormat = fileFormat,
      options = options.readerOptions)(session)
    val scan = Dataset.ofRows(session, LogicalRelation(relation, isStreaming = true))
    val lineage = files.map { case (f, status) => status.getPath.toUri.toString -> ((f.uri, f.eventTimeMs)) }.toMap
    val logged = F.element_at(F.typedLit(lineage), F.col("_metadata.file_path"))
    scan.select(dataSchema.fieldNames.toIndexedSeq.map(n => F.col(quote(n))) ++ Seq(
      logged.getField("_1").as("_file_path"),
      F.col("_metadata.file_size").as("_file_size"),
      F.col("_metadata.file_modification_time").as("_file_modification_time"),
      F.timestamp_millis(logged.getField("_2")).as("_file_event_time")): _*)
  }

  override def commit(end: Offset): Unit = synchronized {
    val segment = segmentOf(end)
    if (segment > committedSegment) {
      previouslyCommitted = committedSegment
      committedSegment = segment
    }
    deleteCommitted()
    cleanCommitted()
    commitsSincePurge += 1
    if (commitsSincePurge >= PurgeEveryCommits) {
      commitsSincePurge = 0
      purge()
    }
  }

  /** Messages whose files all lie in committed batches: delete them. */
  private def deleteCommitted(): Unit = {
    val done = pending.rangeTo(committedSegment)
    if (done.nonEmpty) {
      val handles = done.values.flatten.toSeq
      CrashPoints.reach("before_sqs_delete")
      queue.delete(handles)
      done.keys.toSeq.foreach(pending.remove)
    }
    recent.rangeTo(committedSegment).keys.toSeq.foreach(recent.remove)
  }

  /** Spark calls commit(N) only when it plans batch N+1; the checkpoint's commit log knows sooner. */
  private def syncCommitted(): Unit = if (pending.nonEmpty || recent.nonEmpty || cleaner.enabled) {
    checkpointCommits().filter(_._1 > committedSegment).foreach { case (last, previous) =>
      committedSegment = last
      previouslyCommitted = math.max(previouslyCommitted, previous)
      deleteCommitted()
    }
    cleanCommitted()
  }

  /** cleanSource: the files no restart can ask for again, those of the batches before the last committed. */
  private def cleanCommitted(): Unit = if (cleaner.enabled) {
    cleaner.cleanThrough(previouslyCommitted, s => recent.get(s).orElse(discoveryLog.get(s)))
  }

  /** The end offsets of this source in the last batch the checkpoint's commit log holds and in the batch
   * before it (-1 if none). metadataPath is `<checkpoint>/sources/<index of this source in the query>`, as
   * Spark gives it. */
  private def checkpointCommits(): Option[(Long, Long)] = try {
    val source = new Path(metadataPath)
    val index = source.getName.toIntOption
    val root = source.getParent.getParent
    val fs = root.getFileSystem(hadoopConf)
    if (index.isEmpty || source.getParent.getName != "sources" || !fs.exists(new Path(root, "commits"))) None
    else {
      val offsets = new OffsetSeqLog(session, new Path(root, "offsets").toString)
      def end(batch: Long): Option[Long] =
        offsets.get(batch).flatMap(_.offsets.lift(index.get).flatten).map(o => segmentOf(o))
      new CommitLog(session, new Path(root, "commits").toString).getLatestBatchId().flatMap { batch =>
        end(batch).map(last => (last, if (batch > 0) end(batch - 1).getOrElse(-1L) else -1L))
      }
    }
  } catch {
    case NonFatal(e) =>
      logWarning(s"s3-sqs: could not read the commit log beside $metadataPath: ${e.getMessage}")
      None
  }

  /** Forget identities of segments older than dedupeRetention. */
  private def expire(): Unit = {
    val horizon = System.currentTimeMillis() - options.dedupeRetentionMs
    while (segmentTimes.headOption.exists(_._2 < horizon)) {
      val (segment, _) = segmentTimes.head
      segmentTimes.remove(segment)
      discoveryLog.get(segment).foreach(_.foreach { f =>
        if (identities.get(f.identity).contains(segment)) identities.remove(f.identity)
      })
    }
  }

  /** Delete log segments older than dedupeRetention that no batch can be asked for again: on restart
   * Spark may call getBatch for the last committed batch, so its segments stay. */
  private def purge(): Unit = {
    expire()
    val threshold = math.min(
      segmentTimes.headOption.map(_._1).getOrElse(latestSegment + 1), previouslyCommitted + 1)
    if (threshold > 0) discoveryLog.purge(threshold)
    skipLog.expire(System.currentTimeMillis() - options.dedupeRetentionMs)
  }

  override def metrics(latestConsumedOffset: Optional[OffsetV2]): java.util.Map[String, String] = {
    val out = mutable.LinkedHashMap[String, String]()
    val backlog = queue.backlog()
    backlog.get("ApproximateNumberOfMessages").foreach(v => out("backlog") = v.toString)
    backlog.get("ApproximateNumberOfMessagesNotVisible").foreach(v => out("backlogNotVisible") = v.toString)
    synchronized {
      if (latestConsumedOffset.isPresent) {
        batchStats.get(segmentOf(latestConsumedOffset.get)).foreach(out ++= _)
      }
      counters.foreach { case (k, v) => out(k) = v.toString }
      out("loggedSegment") = latestSegment.toString
      out("committedSegment") = committedSegment.toString
      out("retainedIdentities") = identities.size.toString
      out("sqsRequests") = queue.requests.toString
      if (cleaner.enabled) {
        out("cleanedFiles") = cleaner.cleaned.get.toString
        out("cleanKeptFiles") = cleaner.kept.get.toString
        out("cleanFailedFiles") = cleaner.failed.get.toString
      }
    }
    out.filter(_._2.nonEmpty).asJava
  }

  override def stop(): Unit = synchronized {
    try syncCommitted() catch { case NonFatal(e) => logWarning("s3-sqs: deleting committed messages", e) }
    queue.close()
  }

  override def toString: String = s"S3SqsSource[${options.queueUrl}]"

  private def limits(limit: ReadLimit): (Long, Long) = limit match {
    case f: ReadMaxFiles => (f.maxFiles.toLong, Long.MaxValue)
    case b: ReadMaxBytes => (Long.MaxValue, b.maxBytes)
    case c: CompositeReadLimit => c.getReadLimits.map(limits).foldLeft((Long.MaxValue, Long.MaxValue)) {
      case ((f1, b1), (f2, b2)) => (math.min(f1, f2), math.min(b1, b2))
    }
    case _: ReadAllAvailable => (Long.MaxValue, Long.MaxValue)
    case _ => (options.maxFilesPerTrigger.toLong, options.maxBytesPerTrigger.getOrElse(Long.MaxValue))
  }
}

object S3SqsSource {
  val FileColumns: StructType = StructType(Seq(
    StructField("_file_path", StringType),
    StructField("_file_size", LongType),
    StructField("_file_modification_time", org.apache.spark.sql.types.TimestampType),
    StructField("_file_event_time", org.apache.spark.sql.types.TimestampType)))

  private val FileColumnNames = FileColumns.fieldNames.map(_.toLowerCase(Locale.ROOT)).toSet
  private val StatThreads = 32
  /** The skip log lives beside the discovery log (`<checkpoint>/sources/<n>-skipped`), not in it: Spark
   * reads a directory with a subdirectory as partitions. */
  val SkipLogSuffix = "-skipped"
  private val PurgeEveryCommits = 100

  /** The user's columns without any `_file_*` column they declared. */
  def dataColumns(schema: StructType): StructType =
    StructType(schema.fields.filterNot(f => FileColumnNames(f.name.toLowerCase(Locale.ROOT))))

  def withFileColumns(dataSchema: StructType): StructType = StructType(dataSchema.fields ++ FileColumns.fields)

  def segmentOf(offset: OffsetV2): Long = offset match {
    case null => -1L
    case l: LongOffset => l.offset
    case s: SerializedOffset => LongOffset(s).offset
    case o => o.json.trim.toLong
  }

  private def quote(name: String): String = "`" + name.replace("`", "``") + "`"
}
