package org.apache.spark.sql.sessionlake.functions

import com.fasterxml.jackson.core.{JsonEncoding, JsonFactory, JsonGenerator, JsonParser, JsonToken}

import org.apache.spark.sql.catalyst.expressions.{Expression, ExpectsInputTypes, UnaryExpression}
import org.apache.spark.sql.catalyst.expressions.codegen.{CodegenContext, ExprCode}
import org.apache.spark.sql.catalyst.json.JSONOptions
import org.apache.spark.sql.types.{AbstractDataType, DataType, StringType, StructType}
import org.apache.spark.unsafe.types.UTF8String

/**
 * `sessionlake_undeclared_json(value, schema)`: the record's top-level fields that `schema` does not
 * declare, as a JSON object (numbers keep their digits: `1.50` stays `1.50`), or null when there are
 * none or the record is not a JSON object. Read as `sessionlake_parse_json` reads records (`from_json`'s
 * reader options, single quotes included); written as strict JSON.
 */
case class UndeclaredFieldsJson(child: Expression, schema: StructType) extends UnaryExpression with ExpectsInputTypes {

  override def inputTypes: Seq[AbstractDataType] = Seq(StringType)

  override def dataType: DataType = StringType

  override def nullable: Boolean = true

  override def prettyName: String = UndeclaredFieldsJson.FunctionName

  override protected def withNewChildInternal(newChild: Expression): UndeclaredFieldsJson = copy(child = newChild)

  @transient private lazy val declared: java.util.Set[String] = {
    val names = new java.util.HashSet[String]()
    schema.fieldNames.foreach(names.add)
    names
  }

  @transient private lazy val factory: JsonFactory =
    new JSONOptions(Map.empty[String, String], "UTC", "_corrupt_record").buildJsonFactory()

  override protected def nullSafeEval(input: Any): Any = undeclared(input.asInstanceOf[UTF8String])

  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode = {
    val self = ctx.addReferenceObj("undeclaredFieldsJson", this)
    nullSafeCodeGen(ctx, ev, record => s"""
      ${ev.value} = $self.undeclared($record);
      ${ev.isNull} = ${ev.value} == null;
    """)
  }

  def undeclared(record: UTF8String): UTF8String = {
    val out = new java.io.ByteArrayOutputStream()
    var fields = 0
    try {
      val parser = factory.createParser(record.getBytes)
      val generator = factory.createGenerator(out, JsonEncoding.UTF8)
      try {
        if (parser.nextToken() != JsonToken.START_OBJECT) return null
        generator.writeStartObject()
        var token = parser.nextToken()
        while (token == JsonToken.FIELD_NAME) {
          val name = parser.currentName()
          parser.nextToken()
          if (declared.contains(name)) parser.skipChildren()
          else {
            generator.writeFieldName(name)
            copyValue(parser, generator)
            fields += 1
          }
          token = parser.nextToken() // the next key, or the end of the object
        }
        if (token != JsonToken.END_OBJECT || fields == 0) return null
        generator.writeEndObject()
      } finally {
        generator.close()
        parser.close()
      }
    } catch {
      case _: java.io.IOException => return null
    }
    UTF8String.fromBytes(out.toByteArray)
  }

  /** The current value, nested ones whole, with numbers exactly as written (`copyCurrentEventExact`). */
  private def copyValue(parser: JsonParser, generator: JsonGenerator): Unit = {
    var depth = 0
    while ({
      val token = parser.currentToken()
      generator.copyCurrentEventExact(parser)
      if (token == JsonToken.START_OBJECT || token == JsonToken.START_ARRAY) depth += 1
      else if (token == JsonToken.END_OBJECT || token == JsonToken.END_ARRAY) depth -= 1
      depth > 0
    }) parser.nextToken()
  }
}

object UndeclaredFieldsJson {
  val FunctionName = "sessionlake_undeclared_json"

  def build(args: Seq[Expression]): Expression = {
    val schema = Arguments.struct(FunctionName, args)
    UndeclaredFieldsJson(args.head, schema)
  }
}
