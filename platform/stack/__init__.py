"""The local service stack (Kafka-protocol broker, Redis) started by ``encore stack up``."""

from encore.platform.stack.local import LocalStack, ServiceStatus, StackStatus
from encore.platform.stack.process import PortInUseError, StackError, free_port

__all__ = ["LocalStack", "PortInUseError", "ServiceStatus", "StackError", "StackStatus", "free_port"]
