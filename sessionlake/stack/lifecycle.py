"""up / down / status over the stack components."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sessionlake.core.settings import Settings, passed_through
from sessionlake.stack.component import Component, Launch
from sessionlake.stack.derby import Derby
from sessionlake.stack.kafka import Kafka
from sessionlake.stack.moto import Moto
from sessionlake.stack.process import (
    PidFile,
    PortTakenError,
    StackError,
    port_bindable,
    spawn,
    stop_group,
    wait_until,
)
from sessionlake.stack.search import Search
from sessionlake.stack.spark_cluster import cluster_components

log = logging.getLogger(__name__)

COMPONENTS = ("metastore", "kafka", "moto", "search")


# A component's process gets the machine's basics and what its Launch names, never the rest of the
# caller's environment: the PII keys, tokens and passwords stay out of every daemon's /proc/<pid>/environ.
BASE_ENVIRONMENT = ("PATH", "HOME", "USER", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "JAVA_HOME")


def component_environment(launch: Launch) -> dict[str, str]:
    return passed_through((*BASE_ENVIRONMENT, *launch.inherit)) | launch.env


def _registry(settings: Settings) -> dict[str, Component]:
    """Every component: the base stack, then the Spark cluster (master, workers, Thrift Server)."""
    return {c.name: c for c in (Derby(), Kafka(), Moto(), Search(), *cluster_components(settings))}


def cluster_names(settings: Settings) -> list[str]:
    return [c.name for c in cluster_components(settings)]


def _cluster_marker(settings: Settings) -> Path:
    """Present while the cluster is part of the stack: `status` reports it and `up` restarts what died."""
    return settings.stack_dir / "cluster.enabled"


def cluster_enabled(settings: Settings) -> bool:
    return _cluster_marker(settings).exists()


def default_names(settings: Settings, cluster: bool = False) -> list[str]:
    """What `stack up` starts: the base stack, and the cluster when asked for or already part of it."""
    return [*COMPONENTS, *(cluster_names(settings) if cluster or cluster_enabled(settings) else [])]


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    running: bool
    pid: int | None
    endpoint: str
    detail: str


def _components(settings: Settings, names: Sequence[str]) -> list[Component]:
    registry = _registry(settings)
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise StackError(f"unknown stack component(s) {unknown}; choose from {list(registry)}")
    return [registry[n] for n in dict.fromkeys(names)]


def _pidfile(settings: Settings, component: Component) -> PidFile:
    return PidFile(component.workdir(settings) / f"{component.name}.pid", owner=str(component.workdir(settings)))


def _check_ports(settings: Settings, component: Component) -> None:
    for port in component.ports(settings):
        if not port_bindable(port.number):
            hint = f"; stop it or choose another port with {port.env_var}" if port.env_var else ""
            raise PortTakenError(
                f"{component.name}: port {port.number} ({port.label}) on 127.0.0.1 is already in use "
                f"by another process, not sessionlake's {component.name}{hint}"
            )


def up(settings: Settings, components: Sequence[str] | None = None) -> None:
    """Start, health-check and provision the components; those already running are left as they are.

    Without a list: the base stack, and the cluster if it is part of the stack (so a dead worker or
    Thrift Server comes back).

    All processes are launched first and then waited for, so slow starters start in parallel.
    """
    started: list[Component] = []
    launched: list[subprocess.Popen] = []
    chosen = _components(settings, default_names(settings) if components is None else components)
    if any(c.name in cluster_names(settings) for c in chosen):
        _cluster_marker(settings).parent.mkdir(parents=True, exist_ok=True)
        _cluster_marker(settings).touch()
    try:
        waiting = []
        for component in chosen:
            process = _launch(settings, component, started)
            if process is not None:
                launched.append(process)
            waiting.append((component, process))
        for component, process in waiting:
            wait_until(
                lambda c=component: c.healthy(settings),
                what=f"{component.name} at {component.endpoint(settings)}",
                timeout=component.start_timeout,
                log_path=component.log_path(settings),
                process=process,
            )
            component.provision(settings)
            log.info("%s ready at %s", component.name, component.endpoint(settings))
    except BaseException:
        # Leave nothing half-started behind: stop what this call launched. By its Popen first: a child that
        # has not exec'd yet does not carry our owner mark, so its pid file alone would not find it.
        for process in launched:
            if process.poll() is None:
                stop_group(process.pid)
        _stop(settings, started)
        raise


def _launch(settings: Settings, component: Component, started: list[Component]) -> subprocess.Popen | None:
    """Start the component unless our process already runs it (then None); record it in started."""
    pidfile = _pidfile(settings, component)
    pid = pidfile.live_pid()
    if pid is not None:
        log.info("%s already running (pid %d) at %s", component.name, pid, component.endpoint(settings))
        return None
    _check_ports(settings, component)
    launch = component.prepare(settings)
    process = spawn(
        launch.argv,
        component.log_path(settings),
        owner=str(component.workdir(settings)),
        env=component_environment(launch),
        cwd=launch.cwd,
    )
    pidfile.write(process.pid)
    started.append(component)
    log.info("%s starting (pid %d), log %s", component.name, process.pid, component.log_path(settings))
    return process


def _stop(settings: Settings, components: Sequence[Component]) -> None:
    for component in components:
        pidfile = _pidfile(settings, component)
        pid = pidfile.live_pid()
        if pid is not None:
            log.info("stopping %s (pid %d)", component.name, pid)
            stop_group(pid)
        pidfile.remove()


def down(settings: Settings, components: Sequence[str] | None = None) -> None:
    """Stop the components (SIGTERM, then SIGKILL after a timeout, whole process group); no process stays.

    Without a list: every component, the cluster included, which stops being part of the stack.
    """
    names = list(components) if components is not None else list(_registry(settings))
    _stop(settings, list(reversed(_components(settings, names))))
    if components is None:
        _cluster_marker(settings).unlink(missing_ok=True)


def status(settings: Settings) -> list[ComponentStatus]:
    result = []
    for component in _components(settings, default_names(settings)):
        pid = _pidfile(settings, component).live_pid()
        endpoint = component.endpoint(settings)
        if pid is None:
            result.append(ComponentStatus(component.name, False, None, endpoint, "stopped"))
            continue
        healthy = component.healthy(settings)
        detail = "healthy" if healthy else f"not answering; see {component.log_path(settings)}"
        result.append(ComponentStatus(component.name, healthy, pid, endpoint, detail))
    return result
