"""The local stack: Derby metastore, Kafka (KRaft), moto server (S3/SQS/SNS) and a search engine on loopback."""

from sessionlake.stack.lifecycle import COMPONENTS, ComponentStatus, down, status, up
from sessionlake.stack.process import PortTakenError, StackError

__all__ = ["COMPONENTS", "ComponentStatus", "PortTakenError", "StackError", "down", "status", "up"]
