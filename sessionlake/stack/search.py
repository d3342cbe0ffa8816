"""The search engine: Elasticsearch (or OpenSearch) from Maven Central's integ-test-zip, single node.

`SESSIONLAKE_SEARCH_ENGINE` picks the engine: `elasticsearch` (default) or `opensearch`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sessionlake.core.settings import Settings
from sessionlake.stack.component import Component, Launch, Port
from sessionlake.stack.jvm import java_home
from sessionlake.stack.process import StackError

TRANSPORT_PORT_OFFSET = 100
# Read after jvm.options, so these win. C1-only JIT starts the node about twice as fast on a busy
# two-core machine, at a cost in peak throughput a local stack does not need.
JAVA_OPTS = "-Xms512m -Xmx512m -XX:TieredStopAtLevel=1"
NAMESPACE_UID = 1000  # who the engine runs as when we are root (see prepare)


@dataclass(frozen=True)
class Engine:
    name: str  # also the unpacked directory's prefix (<name>-<version>) and the start script's name
    jars_subdir: str  # .cache/jars/<this>, from jvm/<this>/pom.xml
    env_prefix: str  # <prefix>_JAVA_HOME, _JAVA_OPTS, _PATH_CONF, _TMPDIR
    extra_settings: tuple[tuple[str, str], ...] = ()


ENGINES = {
    # The integ-test-zip carries x-pack security; plain HTTP on loopback needs it off.
    "elasticsearch": Engine("elasticsearch", "search", "ES", (("xpack.security.enabled", "false"),)),
    "opensearch": Engine("opensearch", "opensearch", "OPENSEARCH"),
}


def search_engine(settings: Settings) -> Engine:
    name = settings.search.engine
    if name not in ENGINES:
        raise StackError(f"search: SESSIONLAKE_SEARCH_ENGINE={name!r} is not one of {sorted(ENGINES)}")
    return ENGINES[name]


def distribution(settings: Settings, engine: Engine) -> Path:
    """The unpacked distribution under the jar cache (`make jars` unpacks it)."""
    found = sorted(p for p in (settings.jars_dir / engine.jars_subdir).glob(f"{engine.name}-*") if p.is_dir())
    if not found:
        raise StackError(
            f"search: no {engine.name} distribution in {settings.jars_dir / engine.jars_subdir}: run `make jars`"
        )
    return found[-1]


def node_settings(settings: Settings, engine: Engine, state: Path) -> dict[str, str]:
    """The node's settings file; state is where its data and logs go."""
    return {
        "cluster.name": "sessionlake",
        "node.name": "sessionlake-1",
        "path.data": str(state / "data"),
        "path.logs": str(state / "logs"),
        "network.host": "127.0.0.1",
        "http.port": str(settings.ports.search),
        "transport.port": str(settings.ports.search + TRANSPORT_PORT_OFFSET),
        "discovery.type": "single-node",
        # The disk may be small and shared: never go read-only because of watermarks.
        "cluster.routing.allocation.disk.threshold_enabled": "false",
        "action.auto_create_index": "true",
        **dict(engine.extra_settings),
    }


def localize_jvm_options(text: str, state: Path) -> str:
    """Point the distribution's relative GC log, heap dump and error file paths into our state dir."""
    logs = state / "logs"
    text = re.sub(r"file=[^:\s]*gc\.log", f"file={logs}/gc.log", text)
    text = re.sub(r"-XX:HeapDumpPath=\S+", f"-XX:HeapDumpPath={state / 'data'}", text)
    return re.sub(r"-XX:ErrorFile=\S*hs_err_pid%p\.log", f"-XX:ErrorFile={logs}/hs_err_pid%p.log", text)


class Search(Component):
    name = "search"
    start_timeout = 120.0

    def ports(self, settings: Settings) -> list[Port]:
        return [
            Port(settings.ports.search, "search HTTP", "SESSIONLAKE_SEARCH_PORT"),
            Port(settings.ports.search + TRANSPORT_PORT_OFFSET, "search transport (HTTP port + 100)", None),
        ]

    def endpoint(self, settings: Settings) -> str:
        return settings.search_url

    def prepare(self, settings: Settings) -> Launch:
        engine = search_engine(settings)
        dist = distribution(settings, engine)
        jdk = java_home(self.name)
        state = self.workdir(settings) / engine.name
        conf = state / "config"
        if not conf.exists():
            shutil.copytree(dist / "config", conf)
            jvm_options = conf / "jvm.options"
            jvm_options.write_text(localize_jvm_options(jvm_options.read_text(), state))
        config = node_settings(settings, engine, state)
        (conf / f"{engine.name}.yml").write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in config.items()))
        for sub in ("tmp", "logs"):
            (state / sub).mkdir(parents=True, exist_ok=True)
        argv = [str(dist / "bin" / engine.name)]
        if os.geteuid() == 0:
            # Both engines refuse to run as root. In a user namespace mapping an ordinary uid to ours, the
            # process sees itself as that user while still owning our (root's) state files; the JVM attach
            # Elasticsearch uses on itself needs the mapping (an unmapped `nobody` cannot attach).
            argv = ["unshare", "--user", f"--map-user={NAMESPACE_UID}", f"--map-group={NAMESPACE_UID}", *argv]
        env = {
            f"{engine.env_prefix}_JAVA_HOME": str(jdk),
            f"{engine.env_prefix}_JAVA_OPTS": " ".join([JAVA_OPTS, *settings.spark.java_option_list]),
            f"{engine.env_prefix}_PATH_CONF": str(conf),
            f"{engine.env_prefix}_TMPDIR": str(state / "tmp"),
        }
        return Launch(argv=argv, env=env, cwd=state)

    def healthy(self, settings: Settings) -> bool:
        url = f"http://127.0.0.1:{settings.ports.search}/_cluster/health?timeout=2s"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                health = json.load(response)
        except (urllib.error.URLError, OSError, ValueError):
            return False
        return health.get("status") in ("yellow", "green")

    def provision(self, settings: Settings) -> None:
        """Nothing to create: the exporter owns the `sessions` index and its mapping."""
