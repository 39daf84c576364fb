"""Errors PlaceCall turns into gRPC status codes."""


class InvalidCallRequest(ValueError):
    """The request can never succeed as sent (INVALID_ARGUMENT)."""


class BrokerUnavailable(Exception):
    """The broker cannot be reached, or did not confirm the publish (UNAVAILABLE)."""


class PublishRejected(BrokerUnavailable):
    """The broker answered but did not take the message (nack, or no queue to route it to)."""
