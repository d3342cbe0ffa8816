package org.apache.spark.sql.sessionlake.functions

import java.io.ByteArrayInputStream

import com.fasterxml.jackson.core.{JsonFactory, JsonParser, JsonToken}
import com.fasterxml.jackson.core.util.JsonParserDelegate

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{Expression, ExpectsInputTypes, GenericInternalRow, TimeZoneAwareExpression, UnaryExpression}
import org.apache.spark.sql.catalyst.expressions.codegen.{CodegenContext, ExprCode}
import org.apache.spark.sql.catalyst.json.{CreateJacksonParser, JacksonParser, JSONOptions}
import org.apache.spark.sql.catalyst.util.{FailureSafeParser, PermissiveMode}
import org.apache.spark.sql.types.{AbstractDataType, DataType, IntegerType, StringType, StructField, StructType}
import org.apache.spark.unsafe.Platform
import org.apache.spark.unsafe.types.UTF8String

/**
 * `sessionlake_parse_json(value, schema)`: the record typed as `from_json(value, schema)` types it in
 * PERMISSIVE mode, with two more fields:
 *  - `__json_corrupt`: the record, when a value does not fit its declared type or the text is not JSON
 *    (`from_json`'s corrupt-record column);
 *  - `__json_undeclared`: how many of the record's top-level keys the schema does not declare (a key
 *    repeated is counted each time), or null when the record is not a JSON object (where
 *    `json_object_keys` gives null).
 *
 * Both come from one pass of Spark's own JSON parser over the record: the parser reads every top-level key
 * to find the declared ones, and a delegate counts the others as they go by. Only a record that did not
 * parse cleanly is read again, key by key, for the count.
 *
 * The parser reads the record's UTF-8 bytes as they are (Jackson's byte parser), where `from_json` decodes
 * every record through a new character reader (CreateJacksonParser.utf8String), which costs more than the
 * parsing of a small record. The two differ only on malformed UTF-8, which the reader replaces with U+FFFD
 * and the byte parser rejects, and on text Jackson would take for UTF-16 or UTF-32 (a zero byte or a
 * byte-order mark at the start): such a record, and any that does not parse cleanly from its bytes, is
 * parsed the reader's way, so the result is always `from_json`'s.
 */
case class ParseJsonRecord(child: Expression, schema: StructType, timeZoneId: Option[String] = None)
    extends UnaryExpression
    with TimeZoneAwareExpression
    with ExpectsInputTypes {

  import ParseJsonRecord._

  override def inputTypes: Seq[AbstractDataType] = Seq(StringType)

  private val withCorrupt = StructType(schema.fields :+ StructField(CorruptColumn, StringType))

  override def dataType: DataType = StructType(withCorrupt.fields :+ StructField(UndeclaredColumn, IntegerType))

  override def nullable: Boolean = true

  override def withTimeZone(timeZoneId: String): TimeZoneAwareExpression = copy(timeZoneId = Option(timeZoneId))

  override protected def withNewChildInternal(newChild: Expression): ParseJsonRecord = copy(child = newChild)

  override def prettyName: String = FunctionName

  @transient private lazy val declared: java.util.Set[String] = {
    val names = new java.util.HashSet[String]()
    schema.fieldNames.foreach(names.add)
    names
  }

  @transient private lazy val options = new JSONOptions(Map.empty[String, String], timeZoneId.get, CorruptColumn)

  @transient private lazy val factory: JsonFactory = options.buildJsonFactory()

  // The delegate of the record being parsed: `parse` creates one per record, through `counting`.
  @transient private var keys: KeyCountingParser = _

  private def counting(open: (JsonFactory, UTF8String) => JsonParser)(factory: JsonFactory, record: UTF8String) = {
    keys = new KeyCountingParser(open(factory, record), declared)
    keys: JsonParser
  }

  private def permissive(open: (JsonFactory, UTF8String) => JsonParser) = {
    val raw = new JacksonParser(schema, options, allowArrayAsStructs = false)
    new FailureSafeParser[UTF8String](
      record => raw.parse(record, counting(open), identity[UTF8String]),
      PermissiveMode,
      withCorrupt,
      CorruptColumn)
  }

  @transient private lazy val fromBytes = permissive(bytesParser)

  @transient private lazy val fromChars = permissive(CreateJacksonParser.utf8String)

  @transient private lazy val types = withCorrupt.fields.map(_.dataType)

  override protected def nullSafeEval(input: Any): Any = parse(input.asInstanceOf[UTF8String])

  // Generated code calls `parse` on this expression: a CodegenFallback would take its whole plan node
  // out of whole-stage code generation.
  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode = {
    val self = ctx.addReferenceObj("parseJsonRecord", this)
    nullSafeCodeGen(ctx, ev, record => s"""
      ${ev.value} = $self.parse($record);
      ${ev.isNull} = ${ev.value} == null;
    """)
  }

  /** The record typed, or null when it holds no JSON value at all. */
  def parse(record: UTF8String): InternalRow = {
    keys = null
    var row = if (readsAsUtf8(record)) first(fromBytes.parse(record)) else null
    if (row == null || !row.isNullAt(types.length - 1)) {
      keys = null
      row = first(fromChars.parse(record))
    }
    if (row == null) return null // blank: no JSON value at all
    val out = new GenericInternalRow(types.length + 1)
    var i = 0
    while (i < types.length) {
      out.update(i, row.get(i, types(i)))
      i += 1
    }
    val clean = row.isNullAt(types.length - 1) && keys != null && keys.closed
    val undeclared = if (clean) Integer.valueOf(keys.undeclared) else {
      ParseJsonRecord.rescans.incrementAndGet()
      countUndeclared(record)
    }
    out.update(types.length, undeclared)
    out
  }

  /** The undeclared top-level keys of a record that did not parse cleanly, as `json_object_keys` walks them. */
  private def countUndeclared(record: UTF8String): Integer = {
    try {
      val p = CreateJacksonParser.utf8String(factory, record)
      try {
        if (p.nextToken() != JsonToken.START_OBJECT) return null
        var count = 0
        while (p.nextValue() != null && p.currentName() != null) {
          if (!declared.contains(p.currentName())) count += 1
          p.skipChildren()
        }
        Integer.valueOf(count)
      } finally p.close()
    } catch {
      case _: Exception => null
    }
  }
}

object ParseJsonRecord {
  private def first(rows: Iterator[InternalRow]): InternalRow = if (rows.hasNext) rows.next() else null

  /** Jackson's byte parser takes the record for UTF-8: its first byte is ASCII and its second not zero. */
  private def readsAsUtf8(record: UTF8String): Boolean =
    record.numBytes >= 2 && record.getByte(0) > 0 && record.getByte(1) != 0

  /**
   * A byte parser over the record in place (a UTF8String of a row is a slice of a byte array). Through a
   * stream rather than over the array: given the array, Spark's parser takes a string field's non-string
   * value as its exact text, where `from_json` writes it anew.
   */
  private def bytesParser(factory: JsonFactory, record: UTF8String): JsonParser = record.getBaseObject match {
    case bytes: Array[Byte] =>
      val offset = (record.getBaseOffset - Platform.BYTE_ARRAY_OFFSET).toInt
      factory.createParser(new ByteArrayInputStream(bytes, offset, record.numBytes))
    case _ => factory.createParser(new ByteArrayInputStream(record.getBytes))
  }

  val FunctionName = "sessionlake_parse_json"
  val CorruptColumn = "__json_corrupt"
  val UndeclaredColumn = "__json_undeclared"

  /** Records read a second time to count their keys (those that did not parse cleanly), in this JVM. */
  val rescans = new java.util.concurrent.atomic.AtomicLong()

  def build(args: Seq[Expression]): Expression = {
    val schema = Arguments.struct(FunctionName, args)
    ParseJsonRecord(args.head, schema)
  }
}

/**
 * A parser that counts, as the reader goes, the top-level keys not in `declared`, and notes when the
 * top-level object closes. Spark's JacksonParser advances with `nextToken` and skips the values it does
 * not want with `skipChildren`, which moves the wrapped parser past the nested tokens at once.
 */
private[functions] class KeyCountingParser(parser: JsonParser, declared: java.util.Set[String])
    extends JsonParserDelegate(parser) {
  private var depth = 0
  var undeclared = 0
  var closed = false

  override def nextToken(): JsonToken = {
    val token = delegate.nextToken()
    if (token != null) {
      token match {
        case JsonToken.START_OBJECT | JsonToken.START_ARRAY => depth += 1
        case JsonToken.END_OBJECT | JsonToken.END_ARRAY =>
          depth -= 1
          if (depth == 0) closed = true
        case JsonToken.FIELD_NAME if depth == 1 && !declared.contains(delegate.currentName()) => undeclared += 1
        case _ =>
      }
    }
    token
  }

  override def skipChildren(): JsonParser = {
    val token = delegate.currentToken()
    delegate.skipChildren()
    if (token == JsonToken.START_OBJECT || token == JsonToken.START_ARRAY) {
      depth -= 1 // the current token is now the matching end
      if (depth == 0) closed = true
    }
    this
  }
}
