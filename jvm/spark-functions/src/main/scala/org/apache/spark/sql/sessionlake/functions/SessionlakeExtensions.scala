package org.apache.spark.sql.sessionlake.functions

import org.apache.spark.sql.SparkSessionExtensions
import org.apache.spark.sql.catalyst.FunctionIdentifier
import org.apache.spark.sql.catalyst.expressions.ExpressionInfo

/** Registers sessionlake's SQL functions, and the rule `sessionlake_eval_apart` needs, in every session
 * (`spark.sql.extensions`). */
class SessionlakeExtensions extends (SparkSessionExtensions => Unit) {
  override def apply(extensions: SparkSessionExtensions): Unit = {
    extensions.injectFunction(
      (
        FunctionIdentifier(ParseJsonRecord.FunctionName),
        new ExpressionInfo(classOf[ParseJsonRecord].getName, ParseJsonRecord.FunctionName),
        ParseJsonRecord.build _))
    extensions.injectFunction(
      (
        FunctionIdentifier(UndeclaredFieldsJson.FunctionName),
        new ExpressionInfo(classOf[UndeclaredFieldsJson].getName, UndeclaredFieldsJson.FunctionName),
        UndeclaredFieldsJson.build _))
    extensions.injectFunction(
      (
        FunctionIdentifier(EvalApart.FunctionName),
        new ExpressionInfo(classOf[EvalApart].getName, EvalApart.FunctionName),
        EvalApart.build _))
    extensions.injectFunction(
      (
        FunctionIdentifier(Pseudonymize.FunctionName),
        new ExpressionInfo(classOf[Pseudonymize].getName, Pseudonymize.FunctionName),
        Pseudonymize.build _))
    extensions.injectFunction(
      (
        FunctionIdentifier(MasterKey.FunctionName),
        new ExpressionInfo(classOf[MasterKey].getName, MasterKey.FunctionName),
        MasterKey.build _))
    extensions.injectPostHocResolutionRule(_ => SeparateApart)
  }
}
