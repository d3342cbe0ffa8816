package org.apache.spark.sql.sessionlake.functions

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{Attribute, BoundReference, Expression, ExprId, GenericInternalRow, RuntimeReplaceable, UnaryExpression}
import org.apache.spark.sql.catalyst.expressions.codegen.{CodegenContext, CodeGenerator, ExprCode}
import org.apache.spark.sql.catalyst.expressions.codegen.Block._
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan
import org.apache.spark.sql.catalyst.rules.Rule
import org.apache.spark.sql.types.DataType

/**
 * `sessionlake_eval_apart(expr)`: `expr`, kept out of the optimizer and out of generated code. For a
 * large expression that runs on few rows (the detailed reasons of bad records), which would otherwise
 * cost every micro-batch its optimization (a streaming query optimizes and plans its plan anew for each
 * batch) and every row its share of an over-long generated method (the JVM does not compile methods
 * over 8000 bytes, and whole-stage code generation writes a projection into one method).
 *
 * At the end of analysis (`SeparateApart`) it becomes an `EvaluatedApart`: its inputs stay children,
 * the expression over them becomes an opaque body, evaluated by its own interpreter.
 */
case class EvalApart(child: Expression) extends UnaryExpression {

  override def dataType: DataType = child.dataType

  override def nullable: Boolean = child.nullable

  override def prettyName: String = EvalApart.FunctionName

  override protected def withNewChildInternal(newChild: Expression): EvalApart = copy(child = newChild)

  override def eval(input: InternalRow): Any = child.eval(input)

  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode = {
    val code = child.genCode(ctx)
    ev.copy(code = code.code, isNull = code.isNull, value = code.value)
  }
}

object EvalApart {
  val FunctionName = "sessionlake_eval_apart"

  def build(args: Seq[Expression]): Expression = args match {
    case Seq(child) => EvalApart(child)
    case _ => throw new IllegalArgumentException(s"$FunctionName takes one expression, got ${args.length}")
  }
}

/** `body` over `inputs`, the body's attributes in order (as BoundReferences to them). */
case class EvaluatedApart(inputs: Seq[Expression], body: Expression) extends Expression {

  override def children: Seq[Expression] = inputs

  override def dataType: DataType = body.dataType

  override def nullable: Boolean = body.nullable

  override def prettyName: String = EvalApart.FunctionName

  override protected def withNewChildrenInternal(newChildren: IndexedSeq[Expression]): EvaluatedApart =
    copy(inputs = newChildren)

  override def eval(input: InternalRow): Any = evalBody(inputs.map(_.eval(input)).toArray[Any])

  def evalBody(values: Array[Any]): Any = body.eval(new GenericInternalRow(values))

  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode = {
    val values = ctx.freshName("values")
    val result = ctx.freshName("result")
    val fills = inputs.zipWithIndex.map { case (input, i) =>
      val code = input.genCode(ctx)
      val boxed = CodeGenerator.boxedType(input.dataType)
      val value = if (CodeGenerator.isPrimitiveType(input.dataType)) s"$boxed.valueOf(${code.value})" else s"${code.value}"
      s"""${code.code}
         |$values[$i] = ${code.isNull} ? null : (Object) $value;""".stripMargin
    }
    val self = ctx.addReferenceObj("evaluatedApart", this)
    val javaType = CodeGenerator.javaType(dataType)
    val unbox =
      if (CodeGenerator.isPrimitiveType(dataType)) s"((${CodeGenerator.boxedType(dataType)}) $result).${javaType}Value()"
      else s"($javaType) $result"
    ev.copy(code = code"""
      |Object[] $values = new Object[${inputs.length}];
      |${fills.mkString("\n")}
      |Object $result = $self.evalBody($values);
      |boolean ${ev.isNull} = $result == null;
      |$javaType ${ev.value} = ${ev.isNull} ? ${CodeGenerator.defaultValue(dataType)} : $unbox;
      |""".stripMargin)
  }
}

/** The post-hoc resolution rule that turns each analysed `EvalApart` into an `EvaluatedApart`. */
object SeparateApart extends Rule[LogicalPlan] {
  override def apply(plan: LogicalPlan): LogicalPlan = plan.transformAllExpressions {
    case EvalApart(child) if child.resolved =>
      val inputs = child.collect { case a: Attribute => a }.groupBy(_.exprId).values.map(_.head).toSeq
      val ordinals: Map[ExprId, Int] = inputs.map(_.exprId).zipWithIndex.toMap
      val bound = child.transform { case a: Attribute => BoundReference(ordinals(a.exprId), a.dataType, a.nullable) }
      EvaluatedApart(inputs, replaced(bound))
  }

  /** What the optimizer would have done to the body and must still be done: runtime-replaceable
   * expressions (`try_cast`'s and `concat_ws`' kin) have no evaluation of their own. */
  private def replaced(expression: Expression): Expression = {
    var current = expression
    while (current.exists(_.isInstanceOf[RuntimeReplaceable])) {
      current = current.transformDown { case r: RuntimeReplaceable => r.replacement }
    }
    current
  }
}
