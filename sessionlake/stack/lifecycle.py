"""up / down / status over the stack components."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from sessionlake.core.settings import Settings
from sessionlake.stack.component import Component
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

log = logging.getLogger(__name__)

COMPONENTS = ("metastore", "kafka", "moto", "search")

_REGISTRY: dict[str, Component] = {c.name: c for c in (Derby(), Kafka(), Moto(), Search())}


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    running: bool
    pid: int | None
    endpoint: str
    detail: str


def _components(names: Sequence[str]) -> list[Component]:
    unknown = [n for n in names if n not in _REGISTRY]
    if unknown:
        raise StackError(f"unknown stack component(s) {unknown}; choose from {list(COMPONENTS)}")
    return [_REGISTRY[n] for n in dict.fromkeys(names)]


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


def up(settings: Settings, components: Sequence[str] = COMPONENTS) -> None:
    """Start, health-check and provision the components; those already running are left as they are.

    All processes are launched first and then waited for, so slow starters start in parallel.
    """
    started: list[Component] = []
    try:
        waiting = [(component, _launch(settings, component, started)) for component in _components(components)]
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
        # Leave nothing half-started behind: stop what this call launched.
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
        env={**os.environ, **launch.env},
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


def down(settings: Settings, components: Sequence[str] = COMPONENTS) -> None:
    """Stop the components (SIGTERM, then SIGKILL after a timeout, whole process group); no process stays."""
    _stop(settings, list(reversed(_components(components))))


def status(settings: Settings) -> list[ComponentStatus]:
    result = []
    for component in _components(COMPONENTS):
        pid = _pidfile(settings, component).live_pid()
        endpoint = component.endpoint(settings)
        if pid is None:
            result.append(ComponentStatus(component.name, False, None, endpoint, "stopped"))
            continue
        healthy = component.healthy(settings)
        detail = "healthy" if healthy else f"not answering; see {component.log_path(settings)}"
        result.append(ComponentStatus(component.name, healthy, pid, endpoint, detail))
    return result
