package org.apache.spark.sql.sessionlake.functions

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{Expression, LeafExpression}
import org.apache.spark.sql.catalyst.expressions.codegen.CodegenFallback
import org.apache.spark.sql.types.{BinaryType, DataType, StringType}
import org.apache.spark.unsafe.types.UTF8String

/**
 * `sessionlake_master_key()`: the session's spark.sessionlake.pii.masterkey as binary, for `aes_encrypt`
 * and `aes_decrypt` (wrapping and unwrapping the players' data keys); `sessionlake_master_key('next')`:
 * spark.sessionlake.pii.masterkey.next, the key a rotation re-wraps them with. Not foldable, so the
 * optimizer never turns it into a literal a plan would print; the key is not a product field, so plans
 * and errors show the conf's name only (which also keeps the current and the next key two different
 * expressions). A session without the key (an analyst's) fails to analyse it.
 */
case class MasterKey(conf: String)(key: Array[Byte]) extends LeafExpression with CodegenFallback {

  override def dataType: DataType = BinaryType

  override def nullable: Boolean = false

  override def foldable: Boolean = false

  override def prettyName: String = MasterKey.FunctionName

  override protected def otherCopyArgs: Seq[AnyRef] = Seq(key)

  override def eval(input: InternalRow): Any = key
}

object MasterKey {
  val FunctionName = "sessionlake_master_key"

  def build(args: Seq[Expression]): Expression = args match {
    case Seq() => MasterKey(PiiKeys.MasterKeyConf)(PiiKeys.masterKey(FunctionName, PiiKeys.MasterKeyConf))
    case Seq(which) if which.foldable && which.dataType == StringType && which.eval() == UTF8String.fromString("next") =>
      MasterKey(PiiKeys.NextMasterKeyConf)(PiiKeys.masterKey(FunctionName, PiiKeys.NextMasterKeyConf))
    case _ => throw new IllegalArgumentException(s"$FunctionName takes no argument, or 'next'")
  }
}
