"""`sessionlake docs --serve-only` serves the generated docs over HTTP (generation itself runs against the
built project in tests/test_dbt_build.py, which checks the catalog holds every model and column)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sessionlake.core.errors import ExitCode


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_docs_are_served_and_missing_docs_are_named(tmp_path: Path) -> None:
    env = {**os.environ, "SESSIONLAKE_HOME": str(tmp_path)}
    command = [sys.executable, "-m", "sessionlake.app.cli", "docs", "--serve-only"]
    missing = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert missing.returncode == ExitCode.CONFIGURATION and "no generated docs in" in missing.stderr
    target = tmp_path / "dbt" / "target"
    target.mkdir(parents=True)
    (target / "catalog.json").write_text(json.dumps({"nodes": {"model.sessionlake.sessions": {}}}))
    port = _free_port()
    server = subprocess.Popen(
        [*command, "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline, body = time.monotonic() + 90, None
        while body is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/catalog.json", timeout=5) as response:
                    body = json.loads(response.read())
            except OSError:
                time.sleep(0.5)
        assert body == {"nodes": {"model.sessionlake.sessions": {}}}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5) as response:
            assert b"dbt" in response.read()  # dbt's docs site, copied into the target by `docs serve`
    finally:
        server.terminate()
        server.wait(timeout=30)
