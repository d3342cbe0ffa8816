package org.apache.spark.sql.sessionlake.s3sqs

import java.net.URI

import scala.util.control.NonFatal

import org.apache.hadoop.fs.Path

/** s3a paths of (bucket, key) built through java.net.URI, so keys with spaces, '%', ':', '+', '?', '#' or
 * non-ASCII characters become the Hadoop Path of exactly that key. */
object S3Paths {
  def path(bucket: String, key: String): Path = new Path(new URI("s3a", bucket, "/" + key, null, null))

  /** `s3a://bucket/key` with the key as it is (the `_file_path` column). */
  def decoded(bucket: String, key: String): String = s"s3a://$bucket/$key"

  /** The URI-encoded form Spark shows in `_metadata.file_path` for a file read from `path(bucket, key)`. */
  def encoded(bucket: String, key: String): String = path(bucket, key).toUri.toString

  /** The key of an s3a path (decoded). */
  def keyOf(path: Path): String = path.toUri.getPath.stripPrefix("/")

  /** Whether `path(bucket, key)` addresses exactly `key`. Hadoop's Path folds `//` and drops `./` and
   * `../` segments, so an s3a read of such a key reads another object, or none. */
  def addressable(bucket: String, key: String): Boolean =
    try keyOf(path(bucket, key)) == key catch { case NonFatal(_) => false }
}
