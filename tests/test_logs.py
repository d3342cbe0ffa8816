"""No log level prints a secret (#16): py4j's DEBUG command log stays off under `-v`, and every record is
scrubbed of the secret settings' values. In a child process, configured as the CLI configures it (pytest's
own log capture would otherwise sit beside the CLI's handlers)."""

from __future__ import annotations

import os
import subprocess
import sys

from sessionlake.core import logs

SECRET = "s3cr3t-'quoted'\\back\\slash-ü-0123456789"
CHILD = """
import logging, os
from sessionlake.core import logs
logs.configure(verbose=True)
secret = os.environ["SESSIONLAKE_PII_SECRET"]
logging.getLogger("py4j.clientserver").debug("Command to send: c\\nspark.sessionlake.pii.hashkey\\ns%s", secret)
logging.getLogger("sessionlake.test").debug("a library quoting the key: %s", secret)
try:
    raise ValueError(f"refused {secret}")
except ValueError:
    logging.getLogger("sessionlake.test").exception("it failed")
logging.getLogger("sessionlake.test").info("moto's testing credentials are no secret")
"""


def test_py4j_stays_quiet_and_every_record_is_scrubbed() -> None:
    env = os.environ | {"SESSIONLAKE_PII_SECRET": SECRET, "AWS_SECRET_ACCESS_KEY": "testing"}
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    err = done.stderr
    assert SECRET not in err and "Command to send" not in err
    assert err.count(logs.REDACTED) == 2
    assert "a library quoting the key" in err and "ValueError: refused" in err
    assert "moto's testing credentials" in err


def test_ingest_error_records_keep_no_raw_value() -> None:
    """ops.ingest_metrics.error (which erasure cannot reach) keeps the error, not the record's values."""
    from sessionlake.ingest.metrics import without_values

    spark_cast = '[CAST_INVALID_INPUT] The value \'alice@example.org\' of the type "STRING" cannot be cast to "INT"'
    assert "alice" not in without_values(spark_cast) and without_values(spark_cast).startswith("[CAST_INVALID_INPUT]")
    udf = "ValueError: bad address bob.o'neil+x@mail.example.com from 203.0.113.7 and 2001:db8::1 at 12:30:45"
    scrubbed = without_values(udf)
    assert not any(v in scrubbed for v in ("bob", "mail.example", "203.0.113.7", "2001:db8"))
    assert scrubbed.startswith("ValueError: bad address") and scrubbed.endswith("at 12:30:45")
    assert without_values("ValueError: negative fps: -1.0") == "ValueError: negative fps: -1.0"


def test_request_logs_of_the_clients_reach_the_terminal_only_with_verbose() -> None:
    import logging

    from sessionlake.core.logs import configure

    transport = logging.getLogger("elastic_transport.transport")
    configure(verbose=False)
    assert not transport.isEnabledFor(logging.INFO) and transport.isEnabledFor(logging.WARNING)
    configure(verbose=True)
    assert transport.isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("py4j.clientserver").isEnabledFor(logging.INFO)  # never, not even with -v
