package org.apache.spark.sql.sessionlake.s3sqs

import java.io.ByteArrayOutputStream
import java.nio.charset.StandardCharsets.UTF_8
import java.time.{Instant, LocalDateTime, OffsetDateTime, ZoneOffset}

import scala.util.Try

import org.json4s._
import org.json4s.jackson.JsonMethods

/** One S3 object announced as created (by a notification) or found by a listing. */
case class ObjectEvent(
    bucket: String,
    key: String, // decoded
    size: Long,
    etag: String, // without quotes, "" if unknown
    versionId: Option[String],
    sequencer: Option[String],
    eventTimeMs: Long) {

  /** What makes two announcements name the same object version: (bucket, key, ETag), else the version
   * id, else the sequencer. The ETag is what both notifications and listings carry, so a file found by a
   * listing and later announced (or the reverse) is recognised as the same one. */
  def identity: String = ObjectEvent.identity(bucket, key, versionId, etag, sequencer)
}

object ObjectEvent {
  def identity(bucket: String, key: String, versionId: Option[String], etag: String, sequencer: Option[String])
      : String = {
    val token = Option(etag).filter(_.nonEmpty).map("e:" + _)
      .orElse(versionId.map("v:" + _))
      .orElse(sequencer.map("s:" + _))
      .getOrElse("-")
    s"$bucket/$key\u0000$token"
  }

  def normalizeEtag(etag: String): String = Option(etag).getOrElse("").stripPrefix("\"").stripSuffix("\"")
}

/** created: the objects to ingest; ignored: records acknowledged without data (test events, removals,
 * other event types). A message with no created object is acknowledged (deleted) without data. */
case class ParsedMessage(created: Seq[ObjectEvent], ignored: Int)

/** The message is not an S3 notification this source understands: it is left on the queue for its
 * redrive policy, never deleted. */
class ForeignMessage(reason: String) extends Exception(reason)

/** Parsing SQS message bodies into the S3 objects they announce (pure functions, no I/O). */
object Notifications {

  /** Parse one SQS message body; throws ForeignMessage naming the problem for anything else. */
  def parse(body: String): ParsedMessage = {
    val doc = Try(JsonMethods.parse(body)).getOrElse(throw new ForeignMessage("the body is not JSON"))
    document(doc, depth = 0)
  }

  private def document(doc: JValue, depth: Int): ParsedMessage = doc match {
    case obj: JObject =>
      val fields = obj.obj.toMap
      if (fields.get("Type").contains(JString("Notification")) && fields.contains("Message") && depth == 0) {
        val inner = fields("Message") match {
          case JString(s) => Try(JsonMethods.parse(s)).getOrElse(
            throw new ForeignMessage("SNS notification whose Message is not JSON"))
          case _ => throw new ForeignMessage("SNS notification whose Message is not JSON")
        }
        document(inner, depth + 1)
      } else if (fields.get("Event").contains(JString("s3:TestEvent"))) {
        ParsedMessage(Nil, 1)
      } else if (fields.contains("Records")) {
        fields("Records") match {
          case JArray(records) =>
            val events = records.map(s3Record)
            ParsedMessage(events.flatten, events.count(_.isEmpty))
          case _ => throw new ForeignMessage("'Records' is not a list")
        }
      } else if (fields.get("source").contains(JString("aws.s3")) && fields.contains("detail-type")) {
        eventBridge(fields)
      } else {
        throw new ForeignMessage(
          "not an S3 event notification, SNS notification or EventBridge S3 event")
      }
    case _ => throw new ForeignMessage("the body is not a JSON object")
  }

  private def s3Record(record: JValue): Option[ObjectEvent] = {
    val s3 = record \ "s3"
    if (!s3.isInstanceOf[JObject]) throw new ForeignMessage("a record has no 's3' object")
    val name = string(record \ "eventName").getOrElse("")
    if (!name.startsWith("ObjectCreated:") && !name.startsWith("s3:ObjectCreated:")) return None
    val bucket = string(s3 \ "bucket" \ "name")
    val obj = s3 \ "object"
    val rawKey = string(obj \ "key")
    if (bucket.isEmpty || rawKey.isEmpty) {
      throw new ForeignMessage("a record lacks s3.bucket.name or s3.object.key")
    }
    Some(ObjectEvent(
      bucket = bucket.get,
      key = unquotePlus(rawKey.get),
      size = long(obj \ "size").getOrElse(0L),
      etag = ObjectEvent.normalizeEtag(string(obj \ "eTag").orElse(string(obj \ "etag")).getOrElse("")),
      versionId = string(obj \ "versionId").filter(_.nonEmpty),
      sequencer = string(obj \ "sequencer").filter(_.nonEmpty),
      eventTimeMs = eventTime(string(record \ "eventTime"))))
  }

  private def eventBridge(fields: Map[String, JValue]): ParsedMessage = {
    if (!fields.get("detail-type").contains(JString("Object Created"))) return ParsedMessage(Nil, 1)
    val detail = fields.getOrElse("detail", JNothing)
    val bucket = string(detail \ "bucket" \ "name")
    val obj = detail \ "object"
    val key = string(obj \ "key") // EventBridge keys are not URL-encoded
    if (bucket.isEmpty || key.isEmpty) {
      throw new ForeignMessage("EventBridge event lacks detail.bucket.name or detail.object.key")
    }
    val event = ObjectEvent(
      bucket = bucket.get,
      key = key.get,
      size = long(obj \ "size").getOrElse(0L),
      etag = ObjectEvent.normalizeEtag(string(obj \ "etag").getOrElse("")),
      versionId = string(obj \ "version-id").filter(_.nonEmpty),
      sequencer = string(obj \ "sequencer").filter(_.nonEmpty),
      eventTimeMs = eventTime(fields.get("time").flatMap(string)))
    ParsedMessage(Seq(event), 0)
  }

  private def string(v: JValue): Option[String] = v match {
    case JString(s) => Some(s)
    case JInt(i) => Some(i.toString)
    case JLong(l) => Some(l.toString)
    case JDouble(d) => Some(d.toString)
    case JDecimal(d) => Some(d.toString)
    case _ => None
  }

  private def long(v: JValue): Option[Long] = v match {
    case JInt(i) => Some(i.toLong)
    case JLong(l) => Some(l)
    case JDouble(d) => Some(d.toLong)
    case JDecimal(d) => Some(d.toLong)
    case JString(s) => s.toLongOption
    case _ => None
  }

  /** An ISO-8601 time, with or without offset (UTC assumed), as epoch milliseconds. */
  def eventTime(value: Option[String]): Long = {
    val text = value.getOrElse(throw new ForeignMessage("a record has no eventTime"))
    Try(Instant.parse(text).toEpochMilli)
      .orElse(Try(OffsetDateTime.parse(text).toInstant.toEpochMilli))
      .orElse(Try(LocalDateTime.parse(text).toInstant(ZoneOffset.UTC).toEpochMilli))
      .getOrElse(throw new ForeignMessage(s"eventTime '$text' is not an ISO-8601 time"))
  }

  /** Python's urllib.parse.unquote_plus: '+' is a space, %XX sequences are UTF-8 bytes (invalid UTF-8
   * becomes U+FFFD), a '%' not followed by two hex digits stays as it is. S3 encodes keys this way. */
  def unquotePlus(encoded: String): String = {
    val text = encoded.replace('+', ' ')
    if (text.indexOf('%') < 0) return text
    val out = new StringBuilder
    val bytes = new ByteArrayOutputStream
    def flush(): Unit = if (bytes.size > 0) {
      out.append(new String(bytes.toByteArray, UTF_8))
      bytes.reset()
    }
    var i = 0
    while (i < text.length) {
      val c = text.charAt(i)
      if (c == '%' && i + 2 < text.length &&
          hex(text.charAt(i + 1)) >= 0 && hex(text.charAt(i + 2)) >= 0) {
        bytes.write(hex(text.charAt(i + 1)) * 16 + hex(text.charAt(i + 2)))
        i += 3
      } else {
        flush()
        out.append(c)
        i += 1
      }
    }
    flush()
    out.toString
  }

  private def hex(c: Char): Int = Character.digit(c, 16)

  /** For tests from Python (spark._jvm): the parse result as JSON, or {"foreign": reason}. */
  def describe(body: String): String = {
    import org.json4s.JsonDSL._
    val json: JValue = try {
      val parsed = parse(body)
      ("ignored" -> parsed.ignored) ~ ("created" -> parsed.created.map { e =>
        ("bucket" -> e.bucket) ~ ("key" -> e.key) ~ ("size" -> e.size) ~ ("identity" -> e.identity) ~
          ("eventTimeMs" -> e.eventTimeMs) ~ ("uri" -> S3Paths.decoded(e.bucket, e.key))
      })
    } catch {
      case f: ForeignMessage => "foreign" -> f.getMessage
    }
    JsonMethods.compact(JsonMethods.render(json))
  }
}
