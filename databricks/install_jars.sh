#!/bin/bash
# Cluster init script (databricks/jobs.yml): sessionlake's Scala modules, synced with the bundle's files,
# onto the classpath of the driver and the executors before Spark starts, so that spark.sql.extensions
# loads SessionlakeExtensions and the s3-sqs source resolves.
set -euo pipefail
jars="${SESSIONLAKE_JARS:?SESSIONLAKE_JARS is set by the job cluster's spark_env_vars}"
for module in s3-sqs-source spark-functions; do
  cp "$jars/$module"/*.jar /databricks/jars/
done
