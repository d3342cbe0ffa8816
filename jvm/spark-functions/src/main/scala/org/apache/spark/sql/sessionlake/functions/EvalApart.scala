package org.apache.spark.sql.sessionlake.functions

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{BoundReference, Expression, UnaryExpression}
import org.apache.spark.sql.catalyst.expressions.codegen.{CodegenContext, CodeGenerator, ExprCode}
import org.apache.spark.sql.catalyst.expressions.codegen.Block._
import org.apache.spark.sql.types.DataType

/**
 * `sessionlake_eval_apart(expr)`: `expr`, evaluated by its own interpreter instead of being written into
 * the generated code of its projection. For a large expression that runs on few rows (the detailed
 * reasons of bad records): whole-stage code generation writes a projection's expressions into one Java
 * method, and a method over the JVM's 8000-byte limit for compilation runs interpreted for every row.
 * Only a call and the expression's inputs stay in the generated code.
 */
case class EvalApart(child: Expression) extends UnaryExpression {

  override def dataType: DataType = child.dataType

  override def nullable: Boolean = child.nullable

  override def prettyName: String = EvalApart.FunctionName

  override protected def withNewChildInternal(newChild: Expression): EvalApart = copy(child = newChild)

  override def eval(input: InternalRow): Any = child.eval(input)

  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode = {
    val inputs = child.collect { case b: BoundReference => b }.groupBy(_.ordinal).values.map(_.head).toSeq
    val width = if (inputs.isEmpty) 0 else inputs.map(_.ordinal).max + 1
    val values = ctx.freshName("values")
    val result = ctx.freshName("result")
    val fills = inputs.map { input =>
      val value = input.genCode(ctx)
      val boxed = CodeGenerator.boxedType(input.dataType)
      val box = if (CodeGenerator.isPrimitiveType(input.dataType)) s"$boxed.valueOf(${value.value})" else s"${value.value}"
      s"""${value.code}
         |$values[${input.ordinal}] = ${value.isNull} ? null : (Object) $box;""".stripMargin
    }
    val self = ctx.addReferenceObj("evalApart", this)
    val javaType = CodeGenerator.javaType(dataType)
    val boxedResult = CodeGenerator.boxedType(dataType)
    val unbox = if (CodeGenerator.isPrimitiveType(dataType)) s"(($boxedResult) $result).${javaType}Value()" else s"($javaType) $result"
    ev.copy(code = code"""
      |Object[] $values = new Object[$width];
      |${fills.mkString("\n")}
      |Object $result = $self.child().eval(new org.apache.spark.sql.catalyst.expressions.GenericInternalRow($values));
      |boolean ${ev.isNull} = $result == null;
      |$javaType ${ev.value} = ${ev.isNull} ? ${CodeGenerator.defaultValue(dataType)} : $unbox;
      |""".stripMargin)
  }
}

object EvalApart {
  val FunctionName = "sessionlake_eval_apart"

  def build(args: Seq[Expression]): Expression = args match {
    case Seq(child) => EvalApart(child)
    case _ => throw new IllegalArgumentException(s"$FunctionName takes one expression, got ${args.length}")
  }
}
