"""An example Airflow DAG: one sessionlake pass every 5 minutes, as the cron line in docs/deployment.md runs it.

Each stage is its own task, so a failure shows where it happened and only that stage is retried: ingest
what has arrived (`ingest --once`), build silver and gold, export the changed sessions. Every command is
exactly once across retries and kills. The machine running the tasks needs the sessionlake venv and the
settings as environment variables (SESSIONLAKE_LAKE_URI, ..., the PII keys from the secret store: never
in this file); SESSIONLAKE_BIN points at the `sessionlake` executable.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow import DAG
from airflow.providers.standard.operators.bash import BashOperator

SESSIONLAKE = os.environ.get("SESSIONLAKE_BIN", "sessionlake")

with DAG(
    dag_id="sessionlake_pipeline",
    schedule=timedelta(minutes=5),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # passes never overlap (the build also holds a lock)
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30), "execution_timeout": timedelta(minutes=30)},
    tags=["sessionlake"],
) as dag:
    ingest = BashOperator(task_id="ingest", bash_command=f"{SESSIONLAKE} ingest --once")
    build = BashOperator(task_id="build", bash_command=f"{SESSIONLAKE} build")
    export = BashOperator(task_id="export", bash_command=f"{SESSIONLAKE} export --once")
    ingest >> build >> export
