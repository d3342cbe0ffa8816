"""Logging as the CLI sets it up: no log level prints a secret.

py4j logs every command it sends to the JVM at DEBUG, the values of the confs sessionlake sets included
(the PII keys): it stays at WARNING whatever `-v` asks. Every record is also scrubbed of the values of
the secret settings present in the environment (defence in depth: a library that logs a connection
string, an exception that quotes a value)."""

from __future__ import annotations

import logging

from sessionlake.core.settings import secret_values

REDACTED = "*****"
# Libraries whose DEBUG output carries values they pass on: never below WARNING.
QUIET_LOGGERS = ("py4j", "py4j.clientserver", "py4j.java_gateway")
# Clients that log every request at INFO (the search engine's transport: a line per bulk or count): the
# terminal shows them only with `-v`.
CHATTY_LOGGERS = ("elastic_transport", "opensearch", "urllib3", "botocore")


class SecretRedactor(logging.Filter):
    """Replaces every secret value in a record's message and traceback. The values are read at each record:
    the local stack's secrets enter the environment after logging is set up."""

    def _scrub(self, text: str, secrets: list[str]) -> str:
        for value in secrets:
            text = text.replace(value, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        # A value under 8 characters (moto's "testing") is no real secret, and scrubbing it mangles text.
        secrets = sorted((v for v in secret_values() if len(v) >= 8), key=len, reverse=True)
        if not secrets:
            return True
        record.msg, record.args = self._scrub(record.getMessage(), secrets), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._scrub(record.exc_text, secrets)
        return True


def configure(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,  # an imported library may have configured the root logger already
    )
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.WARNING)
    redactor = SecretRedactor()
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)


# Where an engine's error turns into a plan dump or a stack trace: what follows is no message for a person.
_DUMP_STARTS = ("'", "+-", ":-", ":  ", "at ", "Caused by", "\tat ", "== ")


def one_line(text: str, limit: int = 400) -> str:
    """An error for a status line or a one-line report: its message lines before any plan dump or stack
    trace (at most three, joined), every secret value replaced, at most `limit` characters."""
    kept: list[str] = []
    for line in (raw.strip() for raw in str(text).splitlines()):
        if not line:
            continue
        if line.startswith(_DUMP_STARTS) or len(kept) == 3:
            break
        kept.append(line)
    summary = " / ".join(kept) or str(text).strip()[:limit]
    for value in sorted((v for v in secret_values() if len(v) >= 8), key=len, reverse=True):
        summary = summary.replace(value, REDACTED)
    return summary if len(summary) <= limit else summary[: limit - 3] + "..."
