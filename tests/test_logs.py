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
