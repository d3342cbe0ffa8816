"""Process plumbing shared by the stack components: pid files, port checks, spawning, stopping, waiting."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from sessionlake.core.errors import SessionlakeError


class StackError(SessionlakeError):
    """A stack component could not be started, checked or stopped; the message says which and why."""


class PortTakenError(StackError):
    pass


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_bindable(port: int, host: str = "127.0.0.1") -> bool:
    """True if we could listen on host:port right now (nothing else holds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is not alive for our purposes.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


OWNER_ENV = "SESSIONLAKE_STACK_OWNER"  # set in every process we start, to tell ours from a reused pid


def _proc_entries() -> Iterator[tuple[int, int, str]]:
    """(pid, process group, state) of every process."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        yield int(stat.parent.name), int(fields[2]), fields[0]


def _owned_by(pid: int, owner: str) -> bool:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"{OWNER_ENV}={owner}".encode() in environ


def group_alive(pgid: int, owner: str | None = None) -> bool:
    """True if a live (non-zombie) process is in process group pgid (and, given owner, was started by us)."""
    return any(
        group == pgid and state != "Z" and (owner is None or _owned_by(pid, owner))
        for pid, group, state in _proc_entries()
    )


class PidFile:
    """The pid of a component's process (also its process group id: we start it in a new session)."""

    def __init__(self, path: Path, owner: str) -> None:
        self.path = path
        self.owner = owner

    def read(self) -> int | None:
        try:
            return int(self.path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def write(self, pid: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(f"{pid}\n")

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    def live_pid(self) -> int | None:
        """The recorded pid if its process group still runs processes we started; else clears the file.

        A pid reused by an unrelated process (after a reboot, say) does not count: ours carry OWNER_ENV.
        """
        pid = self.read()
        if pid is None:
            return None
        if group_alive(pid, self.owner):
            return pid
        self.remove()
        return None


def spawn(
    argv: Sequence[str], log_path: Path, owner: str, env: Mapping[str, str], cwd: Path | None = None
) -> subprocess.Popen:
    """Start argv detached in its own session (so its whole process group can be stopped), output to log."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**env, OWNER_ENV: owner}
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )


def stop_group(pgid: int, timeout: float = 20.0) -> None:
    """SIGTERM the process group, wait, then SIGKILL whatever is left; returns once none of it runs."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _reap(pgid)
            if not group_alive(pgid) and not pid_alive(pgid):
                return
            time.sleep(0.1)
    raise StackError(f"process group {pgid} survived SIGKILL")


def _reap(pid: int) -> None:
    # If we are the parent (started it in this process), collect the exit status so no zombie stays.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def log_tail(log_path: Path, lines: int = 15) -> str:
    try:
        text = log_path.read_text(errors="replace").splitlines()[-lines:]
    except FileNotFoundError:
        return "(no log written)"
    return "\n".join(text)


def wait_until(
    check: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    log_path: Path,
    process: subprocess.Popen | None = None,
    interval: float = 0.25,
) -> None:
    """Poll check() until it is true; fail with the log path (and tail) on timeout or if process exits."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if process is not None and process.poll() is not None:
            raise StackError(
                f"{what}: process exited with code {process.returncode} before it became healthy; "
                f"see {log_path}:\n{log_tail(log_path)}"
            )
        if time.monotonic() > deadline:
            raise StackError(f"{what}: not healthy after {timeout:.0f}s; see {log_path}:\n{log_tail(log_path)}")
        time.sleep(interval)
