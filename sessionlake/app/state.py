"""The live pipeline's state as `sessionlake up` last wrote it: what `sessionlake status` shows without
starting Spark. One JSON file per long-running process under the state folder (`pipeline/state.json` for `up`,
`pipeline/export.json` for `export --every`), replaced atomically at each change."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sessionlake.core.logs import one_line


@dataclass
class StageState:
    """One stage of the pipeline: an ingest source, the build loop or the exporter."""

    name: str
    state: str = "starting"  # starting | running | idle | waiting | retrying | failed | stopped
    last_ok_at: float | None = None  # epoch seconds of its last success (a batch, a build, an export tick)
    last_seconds: float | None = None  # how long its last run took (build, export)
    summary: str = ""  # what its last success did, for a person
    note: str | None = None  # why it is idle or waiting now (nothing new to build, gold not created yet)
    last_error: str | None = None
    last_error_at: float | None = None
    failures: int = 0  # since the pipeline started
    next_attempt_at: float | None = None  # when it runs or retries next


@dataclass
class PipelineState:
    """The state file's content: who wrote it, since when, and each stage."""

    pid: int
    started_at: float
    stopped_at: float | None = None
    stages: dict[str, StageState] = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str) -> PipelineState:
        data = json.loads(text)
        stages = {name: StageState(**stage) for name, stage in data.pop("stages").items()}
        return cls(**data, stages=stages)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


PIPELINE = "state"  # `sessionlake up`'s file; a standalone loop names its own (`export`)


def state_path(home: Path, process: str = PIPELINE) -> Path:
    return home / "pipeline" / f"{process}.json"


def read_state(home: Path, process: str = PIPELINE) -> PipelineState | None:
    """The last state `sessionlake up` (or the named process) wrote under `home`, or None if it never ran there."""
    try:
        return PipelineState.from_json(state_path(home, process).read_text())
    except FileNotFoundError:
        return None


def read_loops(home: Path) -> dict[str, PipelineState]:
    """The states of the standalone loops (`export --every`) that ran under `home`, by name."""
    return {
        path.stem: PipelineState.from_json(path.read_text())
        for path in sorted((home / "pipeline").glob("*.json"))
        if path.stem != PIPELINE
    }


class StateWriter:
    """Thread-safe updates of the running pipeline's stages, each written through to the state file."""

    def __init__(self, home: Path, process: str = PIPELINE) -> None:
        self.path = state_path(home, process)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.state = PipelineState(pid=os.getpid(), started_at=time.time())
        self._lock = threading.Lock()
        self._write()

    def update(self, name: str, **changes: object) -> None:
        with self._lock:
            stage = self.state.stages.setdefault(name, StageState(name))
            for key, value in changes.items():
                setattr(stage, key, value)
            self._write()

    def succeeded(self, name: str, summary: str, seconds: float | None = None, next_in: float | None = None) -> None:
        now = time.time()
        state = "idle" if next_in is not None else "running"
        next_at = None if next_in is None else now + next_in
        self.update(
            name, state=state, last_ok_at=now, summary=summary, last_seconds=seconds, next_attempt_at=next_at, note=None
        )

    def skipped(self, name: str, note: str, next_in: float | None, waiting: bool = False) -> None:
        """A tick without work: nothing new (idle), or something it needs does not exist yet (waiting)."""
        next_at = None if next_in is None else time.time() + next_in
        self.update(name, state="waiting" if waiting else "idle", note=note, next_attempt_at=next_at)

    def failed(self, name: str, error: str, retry_in: float | None) -> None:
        """Record a failure: its message in one line, secrets scrubbed (a Spark analysis error dumps its
        plan, and the plan holds the SQL's substituted values)."""
        error = one_line(error)
        now = time.time()
        with self._lock:
            failures = self.state.stages.get(name, StageState(name)).failures + 1
        self.update(
            name,
            state="failed" if retry_in is None else "retrying",
            note=None,
            last_error=error,
            last_error_at=now,
            failures=failures,
            next_attempt_at=None if retry_in is None else now + retry_in,
        )

    def stopped(self) -> None:
        with self._lock:
            self.state.stopped_at = time.time()
            for stage in self.state.stages.values():
                stage.state, stage.next_attempt_at = "stopped", None
            self._write()

    def _write(self) -> None:
        partial = self.path.with_suffix(".json.partial")
        partial.write_text(self.state.to_json())
        partial.replace(self.path)
