package org.apache.spark.sql.sessionlake.s3sqs

import java.util.Locale
import java.util.regex.{Pattern, PatternSyntaxException}

import scala.util.Try

import org.apache.hadoop.fs.GlobPattern

import org.apache.spark.network.util.JavaUtils
import org.apache.spark.sql.catalyst.csv.CSVOptions
import org.apache.spark.sql.catalyst.json.JSONOptions
import org.apache.spark.sql.catalyst.xml.XmlOptions
import org.apache.spark.sql.execution.datasources.orc.OrcOptions
import org.apache.spark.sql.execution.datasources.parquet.ParquetOptions
import org.apache.spark.sql.execution.datasources.text.TextOptions

/** An option of the s3-sqs source is unknown, missing or invalid; the message names it. */
class S3SqsOptionError(message: String) extends IllegalArgumentException(message)

/** The source's options, validated once when the stream is defined so that a typo fails at start.
 * Every option that is not the source's own is passed to the file format's reader. */
case class S3SqsOptions(
    queueUrl: String,
    fileFormat: String,
    region: String,
    endpoint: Option[String],
    maxFilesPerTrigger: Int,
    maxBytesPerTrigger: Option[Long],
    sqsFetchIntervalMs: Long,
    waitTimeSeconds: Int,
    visibilityTimeout: Option[Int],
    bucket: Option[String],
    prefix: String,
    pathGlobFilter: Option[String],
    pathRegexFilter: Option[String],
    initialListing: Boolean,
    backfillIntervalMs: Option[Long],
    backfillLookbackMs: Long,
    dedupeRetentionMs: Long,
    cleanSource: String,
    sourceArchiveDir: Option[String],
    readerOptions: Map[String, String]) {

  private lazy val glob = pathGlobFilter.map(g => new GlobPattern(g))
  private lazy val regex = pathRegexFilter.map(r => Pattern.compile(r))

  /** bucket (if given), prefix, pathGlobFilter on the file name (as Spark's option), pathRegexFilter
   * searched in the key. Directory markers (keys ending in '/') are never files. */
  def accepts(bucketName: String, key: String): Boolean = {
    bucket.forall(_ == bucketName) && key.startsWith(prefix) && !key.endsWith("/") &&
      glob.forall(_.matches(key.substring(key.lastIndexOf('/') + 1))) &&
      regex.forall(_.matcher(key).find())
  }
}

object S3SqsOptions {
  val SourceOptions: Seq[String] = Seq(
    "queueUrl", "fileFormat", "region", "endpoint", "maxFilesPerTrigger", "maxBytesPerTrigger",
    "sqsFetchInterval", "waitTimeSeconds", "visibilityTimeout", "bucket", "prefix", "pathGlobFilter",
    "pathRegexFilter", "initialListing", "backfillInterval", "backfillLookback", "dedupeRetention", "cleanSource",
    "sourceArchiveDir")

  /** What becomes of a file once the batch after the one that read it has committed. */
  val CleanSourceModes: Seq[String] = Seq("off", "delete", "archive")

  private val sourceOptionsLower = SourceOptions.map(_.toLowerCase(Locale.ROOT)).toSet

  /** Options every Spark file source reads (FileSourceOptions), whatever the format. */
  private val CommonReaderOptions = Set("ignoreCorruptFiles", "ignoreMissingFiles")

  /** Spark's registry of each built-in format's reader options (DataSourceOptions); None: a format
   * without one (e.g. avro, or a third-party FileFormat), whose options are passed through unchecked. */
  def readerOptionNames(fileFormat: String): Option[Set[String]] = {
    val names = fileFormat.toLowerCase(Locale.ROOT) match {
      case "json" => Some(JSONOptions.getAllOptions)
      case "csv" => Some(CSVOptions.getAllOptions)
      case "text" => Some(TextOptions.getAllOptions)
      case "parquet" => Some(ParquetOptions.getAllOptions)
      case "orc" => Some(OrcOptions.getAllOptions)
      case "xml" => Some(XmlOptions.getAllOptions)
      case _ => None
    }
    names.map(n => (n.toSet ++ CommonReaderOptions).map(_.toLowerCase(Locale.ROOT)))
  }

  private val Day = 24L * 3600 * 1000

  def parse(raw: Map[String, String]): S3SqsOptions = {
    val opts = raw.map { case (k, v) => k.toLowerCase(Locale.ROOT) -> v }
    def get(name: String): Option[String] = opts.get(name.toLowerCase(Locale.ROOT))
    def required(name: String): String = get(name).filter(_.trim.nonEmpty).getOrElse(
      throw new S3SqsOptionError(s"option $name is required by the s3-sqs source"))
    val fileFormat = required("fileFormat")
    val readerNames = readerOptionNames(fileFormat)
    val unknown = opts.keys.filterNot(sourceOptionsLower).filterNot(k => readerNames.forall(_.contains(k)))
    if (unknown.nonEmpty) {
      throw new S3SqsOptionError(
        s"unknown option(s) for the s3-sqs source with fileFormat=$fileFormat: " +
          unknown.toSeq.sorted.mkString(", ") +
          " (neither a source option nor a reader option of Spark's " + fileFormat + " format)")
    }
    if (get("pathGlobFilter").isDefined && get("pathRegexFilter").isDefined) {
      throw new S3SqsOptionError("options pathGlobFilter and pathRegexFilter are exclusive: give one")
    }
    get("pathRegexFilter").foreach { r =>
      try Pattern.compile(r) catch {
        case e: PatternSyntaxException =>
          throw new S3SqsOptionError(s"option pathRegexFilter='$r': ${e.getDescription}")
      }
    }
    get("pathGlobFilter").foreach { g =>
      Try(new GlobPattern(g)).failed.foreach(e =>
        throw new S3SqsOptionError(s"option pathGlobFilter='$g': ${e.getMessage}"))
    }
    val initialListing = bool(get, "initialListing")
    val backfill = get("backfillInterval").map(duration("backfillInterval", _))
    if ((initialListing || backfill.isDefined) && get("bucket").isEmpty) {
      throw new S3SqsOptionError("options initialListing and backfillInterval need option bucket (what to list)")
    }
    val retention = get("dedupeRetention").map(duration("dedupeRetention", _)).getOrElse(14 * Day)
    val lookback = get("backfillLookback").map(duration("backfillLookback", _)).getOrElse(retention)
    if (lookback > retention) {
      throw new S3SqsOptionError(
        s"option backfillLookback must not exceed dedupeRetention (${retention / 1000}s): files older than " +
          "the retention could be logged twice")
    }
    val cleanSource = get("cleanSource").map(_.trim.toLowerCase(Locale.ROOT)).getOrElse("off")
    if (!CleanSourceModes.contains(cleanSource)) {
      throw new S3SqsOptionError(s"option cleanSource='${get("cleanSource").get}': expected " +
        CleanSourceModes.mkString(", "))
    }
    val archiveDir = get("sourceArchiveDir").map(_.trim.stripSuffix("/")).filter(_.nonEmpty)
    if (cleanSource == "archive") {
      val dir = archiveDir.getOrElse(
        throw new S3SqsOptionError("option cleanSource=archive needs option sourceArchiveDir (where to move files)"))
      val source = s"s3a://${get("bucket").getOrElse("")}/${get("prefix").getOrElse("")}"
      if (get("bucket").isEmpty || (dir + "/").startsWith(source) || source.startsWith(dir + "/")) {
        throw new S3SqsOptionError(s"option sourceArchiveDir='$dir' must lie outside the source's " +
          "bucket and prefix (and needs option bucket): archived files would be announced or listed again")
      }
    }
    S3SqsOptions(
      queueUrl = required("queueUrl"),
      fileFormat = fileFormat,
      region = get("region").orElse(sys.env.get("AWS_REGION")).orElse(sys.env.get("AWS_DEFAULT_REGION"))
        .getOrElse("us-east-1"),
      endpoint = get("endpoint").filter(_.nonEmpty),
      maxFilesPerTrigger = get("maxFilesPerTrigger").map(int("maxFilesPerTrigger", _, 1, Int.MaxValue))
        .getOrElse(1000),
      maxBytesPerTrigger = get("maxBytesPerTrigger").map(size("maxBytesPerTrigger", _)),
      sqsFetchIntervalMs = get("sqsFetchInterval").map(duration("sqsFetchInterval", _)).getOrElse(5000L),
      waitTimeSeconds = get("waitTimeSeconds").map(int("waitTimeSeconds", _, 0, 20)).getOrElse(1),
      visibilityTimeout = get("visibilityTimeout").map(int("visibilityTimeout", _, 0, 43200)),
      bucket = get("bucket").filter(_.nonEmpty),
      prefix = get("prefix").getOrElse(""),
      pathGlobFilter = get("pathGlobFilter"),
      pathRegexFilter = get("pathRegexFilter"),
      initialListing = initialListing,
      backfillIntervalMs = backfill,
      backfillLookbackMs = lookback,
      dedupeRetentionMs = retention,
      cleanSource = cleanSource,
      sourceArchiveDir = archiveDir,
      readerOptions = raw.filter { case (k, _) => !sourceOptionsLower(k.toLowerCase(Locale.ROOT)) })
  }

  private def bool(get: String => Option[String], name: String): Boolean = get(name) match {
    case None => false
    case Some(v) => v.trim.toLowerCase(Locale.ROOT) match {
      case "true" => true
      case "false" => false
      case _ => throw new S3SqsOptionError(s"option $name='$v': expected true or false")
    }
  }

  private def int(name: String, value: String, low: Int, high: Int): Int = {
    val n = value.trim.toIntOption.getOrElse(
      throw new S3SqsOptionError(s"option $name='$value': expected an integer"))
    if (n < low || n > high) {
      val bound = if (high == Int.MaxValue) s"at least $low" else s"between $low and $high"
      throw new S3SqsOptionError(s"option $name='$value': must be $bound")
    }
    n
  }

  /** '5s', '500ms', '2m', '1h', '14d' (Spark's time strings), or a plain number of seconds. */
  def duration(name: String, value: String): Long = {
    val v = value.trim
    val ms = Try(if (v.matches("\\d+")) v.toLong * 1000 else JavaUtils.timeStringAsMs(v)).getOrElse(
      throw new S3SqsOptionError(s"option $name='$value': expected a duration such as 5s, 500ms, 2m or 1h"))
    if (ms < 0) throw new S3SqsOptionError(s"option $name='$value': must not be negative")
    ms
  }

  /** '10g', '512m', '1024' (bytes): Spark's byte strings. */
  def size(name: String, value: String): Long = {
    val bytes = Try(JavaUtils.byteStringAsBytes(value.trim)).getOrElse(
      throw new S3SqsOptionError(s"option $name='$value': expected a size such as 512m, 10g or a number of bytes"))
    if (bytes <= 0) throw new S3SqsOptionError(s"option $name='$value': must be positive")
    bytes
  }
}
