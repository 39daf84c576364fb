"""The dialer's AMQP publisher: the shared confirmed publisher thread (`porteiro_common.amqp`).

The connection, confirms, reconnect with backoff and fail-fast behaviour live in
porteiro_common so the register's call-finished publisher uses the same code;
this module only names the dialer in its errors and keeps the dialer's imports.
"""

from porteiro_common import amqp
from porteiro_common.amqp import AmqpTarget, Backoff, connection_parameters, describe_broker, describe_error

__all__ = [
    "AmqpPublisher",
    "AmqpTarget",
    "Backoff",
    "connection_parameters",
    "describe_broker",
    "describe_error",
]


class AmqpPublisher(amqp.AmqpPublisher):
    STOPPING_REASON = "dialer is stopping"
