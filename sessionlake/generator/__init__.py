"""Workload generator for the reference domain: plan a deterministic workload, deliver it to Kafka and
S3 by phase, and compute the gold `sessions` rows it must produce."""

from sessionlake.generator.config import GeneratorConfig
from sessionlake.generator.delivery import DeliveryError, DeliveryReport, deliver
from sessionlake.generator.planner import plan
from sessionlake.generator.truth import truth, write_truth
from sessionlake.generator.workload import LATE, MAIN, PHASES, SOURCES, KafkaMessage, LogFile, Record, Workload

__all__ = [
    "LATE",
    "MAIN",
    "PHASES",
    "SOURCES",
    "DeliveryError",
    "DeliveryReport",
    "GeneratorConfig",
    "KafkaMessage",
    "LogFile",
    "Record",
    "Workload",
    "deliver",
    "plan",
    "truth",
    "write_truth",
]
