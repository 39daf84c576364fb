"""Errors PlaceCall turns into gRPC status codes."""

# BrokerUnavailable (UNAVAILABLE: the broker cannot be reached or did not confirm) and its subclass
# PublishRejected (nack or unroutable) are defined with the shared publisher thread, which raises them.
from porteiro_common.amqp import BrokerUnavailable, PublishRejected

__all__ = ["BrokerUnavailable", "InvalidCallRequest", "PublishRejected"]


class InvalidCallRequest(ValueError):
    """The request can never succeed as sent (INVALID_ARGUMENT)."""
