"""Stopping a long-running command cleanly: the first SIGTERM or Ctrl-C lets the work in flight finish."""

from __future__ import annotations

import logging
import signal
import threading

log = logging.getLogger(__name__)


def stop_on_signals() -> threading.Event:
    """An event the first SIGTERM or SIGINT sets; a second Ctrl-C interrupts at once. Wait on it with a timeout
    in the main thread: the handler runs there."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("%s: stopping after the work in flight (again to stop at once)", signal.Signals(signum).name)
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, request_stop)
    return stop
