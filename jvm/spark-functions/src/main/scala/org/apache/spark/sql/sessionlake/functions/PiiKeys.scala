package org.apache.spark.sql.sessionlake.functions

import java.nio.charset.StandardCharsets

import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.internal.SQLConf

/**
 * The PII keys, read from the active session's conf when a query using them is analysed (not from
 * SQLConf.get: while a view is resolved that is the view's captured SQL conf, which holds no key,
 * and dbt's incremental merges read their new rows through a temporary view). Never substituted
 * into SQL text, so no query, plan, log or error message holds them. A session without them (an
 * analyst's) cannot hash nor decrypt, and the error names the setting, never a value.
 */
private[functions] object PiiKeys {
  val HashKeyConf = "spark.sessionlake.pii.hashkey"
  val MasterKeyConf = "spark.sessionlake.pii.masterkey"
  // The key a master-key rotation re-wraps the data keys with (`sessionlake rotate-master-key`).
  val NextMasterKeyConf = "spark.sessionlake.pii.masterkey.next"
  val MinHashKeyLength = 16

  private def sessionConf(name: String): String =
    SparkSession.getActiveSession.map(_.conf.get(name, "")).getOrElse(SQLConf.get.getConfString(name, ""))

  /** The keyed hash's key: the UTF-8 bytes of spark.sessionlake.pii.hashkey (SESSIONLAKE_PII_SECRET). */
  def hashKey(function: String): Array[Byte] = {
    val value = sessionConf(HashKeyConf)
    if (value.length < MinHashKeyLength) {
      throw new IllegalArgumentException(
        s"$function: $HashKeyConf is not set (or shorter than $MinHashKeyLength characters) in this session:" +
          " set SESSIONLAKE_PII_SECRET")
    }
    value.getBytes(StandardCharsets.UTF_8)
  }

  /** A master key (`conf`: the current one, or the next one of a rotation), hex of 16, 24 or 32 bytes. */
  def masterKey(function: String, conf: String): Array[Byte] = {
    val value = sessionConf(conf)
    val valid = Set(32, 48, 64).contains(value.length) && value.forall(c => Character.digit(c, 16) >= 0)
    if (!valid) {
      val variable = if (conf == NextMasterKeyConf) "SESSIONLAKE_PII_NEXT_MASTER_KEY" else "SESSIONLAKE_PII_MASTER_KEY"
      throw new IllegalArgumentException(
        s"$function: $conf is missing or malformed in this session: set $variable to the hex of 16, 24 or 32 bytes")
    }
    value.grouped(2).map(pair => Integer.parseInt(pair, 16).toByte).toArray
  }
}
