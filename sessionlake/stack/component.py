"""What every stack component provides to the lifecycle (up/down/status)."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path

from sessionlake.core.settings import Settings


@dataclass(frozen=True)
class Launch:
    """How to start a component's process."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # set for the process
    inherit: tuple[str, ...] = ()  # names taken from the caller's environment beyond the basics (lifecycle)
    cwd: Path | None = None


@dataclass(frozen=True)
class Port:
    number: int
    label: str
    env_var: str | None  # the setting that moves it, for error messages


class Component(abc.ABC):
    name: str
    start_timeout: float = 60.0

    def workdir(self, settings: Settings) -> Path:
        return settings.stack_dir / self.name

    def log_path(self, settings: Settings) -> Path:
        return self.workdir(settings) / f"{self.name}.log"

    @abc.abstractmethod
    def ports(self, settings: Settings) -> list[Port]: ...

    @abc.abstractmethod
    def endpoint(self, settings: Settings) -> str: ...

    @abc.abstractmethod
    def prepare(self, settings: Settings) -> Launch:
        """Check prerequisites, write config and state under workdir; return how to start the process."""

    @abc.abstractmethod
    def healthy(self, settings: Settings) -> bool:
        """A quick probe (seconds at most) that the component answers."""

    @abc.abstractmethod
    def provision(self, settings: Settings) -> None:
        """Create what the reference domain needs (topics, buckets, ...); must be idempotent."""
