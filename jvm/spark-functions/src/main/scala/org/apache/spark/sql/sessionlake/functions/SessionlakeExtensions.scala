package org.apache.spark.sql.sessionlake.functions

import org.apache.spark.sql.SparkSessionExtensions
import org.apache.spark.sql.catalyst.FunctionIdentifier
import org.apache.spark.sql.catalyst.expressions.{Expression, ExpressionInfo}

/** Registers sessionlake's SQL functions, and the rule `sessionlake_eval_apart` needs, in every session
 * (`spark.sql.extensions`). */
class SessionlakeExtensions extends (SparkSessionExtensions => Unit) {
  // name, the expression class (for DESCRIBE FUNCTION), its builder
  private val functions: Seq[(String, Class[_], Seq[Expression] => Expression)] = Seq(
    (ParseJsonRecord.FunctionName, classOf[ParseJsonRecord], ParseJsonRecord.build),
    (UndeclaredFieldsJson.FunctionName, classOf[UndeclaredFieldsJson], UndeclaredFieldsJson.build),
    (EvalApart.FunctionName, classOf[EvalApart], EvalApart.build),
    (Pseudonymize.FunctionName, classOf[Pseudonymize], Pseudonymize.build),
    (MasterKey.FunctionName, classOf[MasterKey], MasterKey.build))

  override def apply(extensions: SparkSessionExtensions): Unit = {
    functions.foreach { case (name, expression, build) =>
      extensions.injectFunction((FunctionIdentifier(name), new ExpressionInfo(expression.getName, name), build))
    }
    extensions.injectPostHocResolutionRule(_ => SeparateApart)
  }
}
