"""Exponential backoff for a long-running stage that failed: how long to wait before the next attempt."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Backoff:
    """`initial` seconds after the first failure, doubling after each further one up to `maximum`;
    `reset()` after a success starts again from `initial`."""

    initial: float = 5.0
    maximum: float = 300.0
    failures: int = 0

    def next_delay(self) -> float:
        """Count a failure and return the wait before the next attempt."""
        self.failures += 1
        return min(self.initial * 2 ** (self.failures - 1), self.maximum)

    def reset(self) -> None:
        self.failures = 0
