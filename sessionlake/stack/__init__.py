"""The local stack: Derby metastore, Kafka (KRaft), moto server (S3/SQS/SNS) and a search engine on loopback;
optionally a Spark standalone cluster and the Spark Thrift Server."""

from sessionlake.stack.lifecycle import (
    COMPONENTS,
    ComponentStatus,
    cluster_enabled,
    cluster_names,
    default_names,
    down,
    status,
    up,
)
from sessionlake.stack.process import PortTakenError, StackError

__all__ = [
    "COMPONENTS",
    "ComponentStatus",
    "PortTakenError",
    "StackError",
    "cluster_enabled",
    "cluster_names",
    "default_names",
    "down",
    "status",
    "up",
]
