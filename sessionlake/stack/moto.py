"""moto server as the local S3 + SQS + SNS endpoint, with the reference buckets' event notifications."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path

from sessionlake.core.settings import Settings
from sessionlake.stack.aws import provision_log_buckets, provision_state_buckets
from sessionlake.stack.component import Component, Launch, Port
from sessionlake.stack.process import StackError


def moto_server_bin() -> Path:
    """moto_server from the same environment as this Python."""
    path = Path(sys.executable).parent / "moto_server"
    if not path.is_file():
        raise StackError(f"moto: {path} not found: install the project (`make venv` installs moto[server])")
    return path


class Moto(Component):
    name = "moto"
    start_timeout = 30.0

    def ports(self, settings: Settings) -> list[Port]:
        return [Port(settings.ports.moto, "moto server", "SESSIONLAKE_MOTO_PORT")]

    def endpoint(self, settings: Settings) -> str:
        return settings.aws_endpoint

    def prepare(self, settings: Settings) -> Launch:
        self.workdir(settings).mkdir(parents=True, exist_ok=True)
        argv = [str(moto_server_bin()), "-H", "127.0.0.1", "-p", str(settings.ports.moto)]
        return Launch(argv=argv, cwd=self.workdir(settings))

    def healthy(self, settings: Settings) -> bool:
        url = f"http://127.0.0.1:{settings.ports.moto}/moto-api/config"  # small; data.json dumps all state
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return 200 <= response.status < 300
        except (urllib.error.URLError, OSError):
            return False

    def provision(self, settings: Settings) -> None:
        provision_log_buckets(settings)
        provision_state_buckets(settings)
