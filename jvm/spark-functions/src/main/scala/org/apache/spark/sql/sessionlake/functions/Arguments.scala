package org.apache.spark.sql.sessionlake.functions

import org.apache.spark.sql.catalyst.expressions.Expression
import org.apache.spark.sql.types.{DataType, StringType, StructType}

/** The arguments sessionlake's record functions share: (value, schema), `schema` a struct's JSON literal. */
private[functions] object Arguments {
  def struct(function: String, args: Seq[Expression]): StructType = args match {
    case Seq(_, schema) if schema.foldable && schema.dataType == StringType =>
      DataType.fromJson(schema.eval().toString) match {
        case struct: StructType => struct
        case other =>
          throw new IllegalArgumentException(s"$function: the schema must be a struct, not ${other.simpleString}")
      }
    case _ =>
      throw new IllegalArgumentException(
        s"$function takes (value, schema): a string and a struct's JSON as a literal, got ${args.length} argument(s)")
  }
}
