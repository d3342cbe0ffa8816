package org.apache.spark.sql.sessionlake.s3sqs

import org.apache.hadoop.fs.{FileStatus, Path}

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.Expression
import org.apache.spark.sql.execution.datasources.{FileIndex, FileStatusWithMetadata, PartitionDirectory}
import org.apache.spark.sql.types.StructType

/** The files of one batch, as Spark's file scan sees them: exactly the logged files (no listing, no glob
 * expansion, no hidden-file filtering of names starting with '_' or '.'), unpartitioned. */
class LoggedFilesIndex(statuses: Seq[FileStatus]) extends FileIndex {
  override def rootPaths: Seq[Path] = statuses.map(_.getPath)

  override def listFiles(
      partitionFilters: Seq[Expression], dataFilters: Seq[Expression]): Seq[PartitionDirectory] = {
    if (statuses.isEmpty) Nil
    else Seq(PartitionDirectory(InternalRow.empty, statuses.map(s => FileStatusWithMetadata(s, Map.empty))))
  }

  override def inputFiles: Array[String] = statuses.map(_.getPath.toString).toArray
  override def refresh(): Unit = ()
  override def sizeInBytes: Long = statuses.map(_.getLen).sum
  override def partitionSchema: StructType = new StructType()
}
