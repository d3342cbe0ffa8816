package org.apache.spark.sql.sessionlake.functions

import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec

import org.apache.spark.sql.catalyst.expressions.{Expression, ExpectsInputTypes, UnaryExpression}
import org.apache.spark.sql.catalyst.expressions.codegen.{CodegenContext, ExprCode}
import org.apache.spark.sql.types.{AbstractDataType, DataType, StringType}
import org.apache.spark.unsafe.types.UTF8String

/**
 * `sessionlake_pseudonymize(value)`: HMAC-SHA-256 of the value's UTF-8 bytes keyed with the session's
 * spark.sessionlake.pii.hashkey, as 64 lowercase hex digits; null stays null. Any key a secret manager
 * produces works (quotes, backslashes, non-ASCII): it is bytes here, never SQL text. The key is not a
 * child nor a product field, so plans and error messages show `sessionlake_pseudonymize(user_id)` only.
 * Python's twin: sessionlake.privacy.keys.pseudonymize.
 */
case class Pseudonymize(child: Expression)(key: Array[Byte]) extends UnaryExpression with ExpectsInputTypes {

  override def inputTypes: Seq[AbstractDataType] = Seq(StringType)

  override def dataType: DataType = StringType

  override def prettyName: String = Pseudonymize.FunctionName

  override protected def otherCopyArgs: Seq[AnyRef] = Seq(key)

  override protected def withNewChildInternal(newChild: Expression): Pseudonymize = copy(child = newChild)(key)

  @transient private lazy val mac: ThreadLocal[Mac] = ThreadLocal.withInitial { () =>
    val instance = Mac.getInstance("HmacSHA256")
    instance.init(new SecretKeySpec(key, "HmacSHA256"))
    instance
  }

  override protected def nullSafeEval(input: Any): Any = hash(input.asInstanceOf[UTF8String])

  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode = {
    val self = ctx.addReferenceObj("pseudonymize", this)
    defineCodeGen(ctx, ev, value => s"$self.hash($value)")
  }

  def hash(value: UTF8String): UTF8String = {
    val digest = mac.get().doFinal(value.getBytes)
    val hex = new Array[Byte](digest.length * 2)
    var i = 0
    while (i < digest.length) {
      hex(2 * i) = Pseudonymize.Digits(digest(i) >> 4 & 0xf)
      hex(2 * i + 1) = Pseudonymize.Digits(digest(i) & 0xf)
      i += 1
    }
    UTF8String.fromBytes(hex)
  }
}

object Pseudonymize {
  val FunctionName = "sessionlake_pseudonymize"
  private val Digits: Array[Byte] = "0123456789abcdef".getBytes("US-ASCII")

  def build(args: Seq[Expression]): Expression = args match {
    case Seq(value) => Pseudonymize(value)(PiiKeys.hashKey(FunctionName))
    case _ => throw new IllegalArgumentException(s"$FunctionName takes one argument, got ${args.length}")
  }
}
