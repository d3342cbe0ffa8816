"""The knobs of a generated workload."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

DEFAULT_START = datetime(2025, 1, 6, 18, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything a workload depends on: the same config always plans the same workload.

    Ratios are fractions of the valid records (or of the log files, for late and gzip) of each source,
    rounded to whole records; session-shape ratios are fractions of the sessions.
    """

    seed: int = 42
    sessions: int = 50
    rate: float = 0.0  # delivery pace in records per second (a log file counts its lines); 0 = as fast as possible
    duplicate_ratio: float = 0.05
    late_ratio: float = 0.1
    out_of_order_ratio: float = 0.05
    malformed_ratio: float = 0.01
    gzip_ratio: float = 0.5
    start: datetime = DEFAULT_START
    window_minutes: int = 60  # sessions start spread over this window after `start`
    active_ratio: float = 0.1  # no session_ended yet (and so no logs)
    no_logs_ratio: float = 0.1  # ended, but neither client nor billing logs
    logs_only_ratio: float = 0.05  # logs, but no session-events or stream-metrics at all
    no_metrics_ratio: float = 0.1  # ended with logs, but no stream-metrics
    users: int = field(default=0)  # size of the player pool; 0 = a third of the sessions

    def __post_init__(self) -> None:
        ratios = {
            "duplicate_ratio": self.duplicate_ratio,
            "late_ratio": self.late_ratio,
            "out_of_order_ratio": self.out_of_order_ratio,
            "malformed_ratio": self.malformed_ratio,
            "gzip_ratio": self.gzip_ratio,
            "active_ratio": self.active_ratio,
            "no_logs_ratio": self.no_logs_ratio,
            "logs_only_ratio": self.logs_only_ratio,
            "no_metrics_ratio": self.no_metrics_ratio,
        }
        for name, value in ratios.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        shapes = self.active_ratio + self.no_logs_ratio + self.logs_only_ratio + self.no_metrics_ratio
        if shapes > 1.0:
            raise ValueError(f"session-shape ratios add up to {shapes:.2f} > 1")
        if self.sessions < 0 or self.rate < 0 or self.users < 0:
            raise ValueError("sessions, rate and users must not be negative")
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware (UTC)")

    @property
    def user_pool(self) -> int:
        return self.users or max(1, self.sessions // 3)
