"""One root error type for everything sessionlake raises on purpose, with the kind that says what to do.

The CLI turns a `SessionlakeError` into one line on standard error and the exit code of its kind
(docs/configuration.md, "Exit codes"); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from enum import Enum, IntEnum


class ExitCode(IntEnum):
    """The documented exit codes of every `sessionlake` command."""

    OK = 0
    FAILED = 1
    CONFIGURATION = 2
    NOT_RUNNING = 3
    INPUT = 4
    INTERNAL = 70
    TRANSIENT = 75


EXIT_CODE_MEANINGS = {
    ExitCode.OK: "success",
    ExitCode.FAILED: "a stage or step failed; the message says which and why",
    ExitCode.CONFIGURATION: "a setting, source file or command-line argument is wrong; the message names it",
    ExitCode.NOT_RUNNING: "`stack status` / `status`: a component the command needs is not running",
    ExitCode.INPUT: "the data or the request cannot be processed as it is (a missing table, raw PII, an empty id)",
    ExitCode.INTERNAL: "an unexpected error (a bug), printed with its traceback",
    ExitCode.TRANSIENT: "busy or unreachable (the build lock, the search engine): the same command can succeed later",
}


class ErrorKind(Enum):
    FAILURE = ExitCode.FAILED
    CONFIGURATION = ExitCode.CONFIGURATION
    INPUT = ExitCode.INPUT
    TRANSIENT = ExitCode.TRANSIENT


class SessionlakeError(Exception):
    """The root of sessionlake's errors. Messages name what is wrong (a setting, a file and key, a table)
    and never hold a secret's value."""

    kind: ErrorKind = ErrorKind.FAILURE

    @property
    def exit_code(self) -> ExitCode:
        return self.kind.value


class ConfigurationError(SessionlakeError, ValueError):
    """A setting, source file or argument is missing or malformed; the message names it."""

    kind = ErrorKind.CONFIGURATION


class InputError(SessionlakeError, ValueError):
    """The data or the request cannot be processed as it is."""

    kind = ErrorKind.INPUT


class TransientError(SessionlakeError):
    """A component was busy or unreachable; the same call can succeed later."""

    kind = ErrorKind.TRANSIENT


def summary(exc: BaseException) -> str:
    """`<ExceptionType>: <first line of its message>`, how a stage reports an error it recovers from."""
    return f"{type(exc).__name__}: {next(iter(str(exc).strip().splitlines()), '')}"
