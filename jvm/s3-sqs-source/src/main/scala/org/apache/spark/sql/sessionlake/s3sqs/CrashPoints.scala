package org.apache.spark.sql.sessionlake.s3sqs

import java.nio.charset.StandardCharsets.UTF_8
import java.nio.file.{Files, Paths}

/**
 * Test hook for the kill -9 tests (tests/test_s3_sqs_crash.py). When the environment variable
 * SESSIONLAKE_S3SQS_CRASH_AT names a point this process reaches, it writes the point's name to the file
 * SESSIONLAKE_S3SQS_CRASH_MARKER and blocks, for the test to kill the process with SIGKILL. Unset (as in
 * production), reach() does nothing.
 */
object CrashPoints {
  private val target = sys.env.get("SESSIONLAKE_S3SQS_CRASH_AT").filter(_.nonEmpty)

  def reach(point: String): Unit = if (target.contains(point)) {
    sys.env.get("SESSIONLAKE_S3SQS_CRASH_MARKER").foreach { marker =>
      Files.write(Paths.get(marker), point.getBytes(UTF_8))
    }
    Thread.sleep(10L * 60 * 1000)
    Runtime.getRuntime.halt(137) // never carry on past a crash point
  }
}
