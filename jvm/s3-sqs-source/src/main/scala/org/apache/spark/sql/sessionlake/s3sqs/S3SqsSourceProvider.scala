package org.apache.spark.sql.sessionlake.s3sqs

import scala.util.control.NonFatal

import org.apache.spark.sql.SQLContext
import org.apache.spark.sql.classic.SparkSession
import org.apache.spark.sql.execution.datasources.{DataSource, FileFormat}
import org.apache.spark.sql.execution.datasources.v2.FileDataSourceV2
import org.apache.spark.sql.execution.streaming.Source
import org.apache.spark.sql.sources.{DataSourceRegister, StreamSourceProvider}
import org.apache.spark.sql.types.{StringType, StructField, StructType}

/** spark.readStream.format("s3-sqs"): files announced by S3 event notifications on an SQS queue. */
class S3SqsSourceProvider extends StreamSourceProvider with DataSourceRegister {
  override def shortName(): String = "s3-sqs"

  override def sourceSchema(
      sqlContext: SQLContext,
      schema: Option[StructType],
      providerName: String,
      parameters: Map[String, String]): (String, StructType) = {
    val options = S3SqsOptions.parse(parameters)
    val session = sqlContext.sparkSession.asInstanceOf[SparkSession]
    S3SqsSourceProvider.fileFormat(session, options.fileFormat)
    (shortName(), S3SqsSource.withFileColumns(S3SqsSourceProvider.dataSchema(options, schema)))
  }

  override def createSource(
      sqlContext: SQLContext,
      metadataPath: String,
      schema: Option[StructType],
      providerName: String,
      parameters: Map[String, String]): Source = {
    val options = S3SqsOptions.parse(parameters)
    val session = sqlContext.sparkSession.asInstanceOf[SparkSession]
    new S3SqsSource(session, metadataPath, options, S3SqsSourceProvider.dataSchema(options, schema),
      S3SqsSourceProvider.fileFormat(session, options.fileFormat))
  }
}

object S3SqsSourceProvider {
  /** The user's schema without the `_file_*` columns; fileFormat=text defaults to `value string`. */
  def dataSchema(options: S3SqsOptions, schema: Option[StructType]): StructType = schema match {
    case Some(s) => S3SqsSource.dataColumns(s)
    case None if options.fileFormat.equalsIgnoreCase("text") => StructType(Seq(StructField("value", StringType)))
    case None => throw new S3SqsOptionError(
      s"fileFormat=${options.fileFormat} needs a schema: .schema(...) with the files' columns")
  }

  /** Spark's FileFormat for a format name (json, csv, parquet, text, orc, xml, avro, a class name). */
  def fileFormat(session: SparkSession, name: String): FileFormat = {
    val cls = try DataSource.lookupDataSource(name, session.sessionState.conf) catch {
      case NonFatal(e) => throw new S3SqsOptionError(s"option fileFormat=$name: ${e.getMessage}")
    }
    cls.getConstructor().newInstance() match {
      case f: FileFormat => f
      case v2: FileDataSourceV2 => v2.fallbackFileFormat.getConstructor().newInstance()
      case _ => throw new S3SqsOptionError(s"option fileFormat=$name: not a file format Spark can read")
    }
  }
}
