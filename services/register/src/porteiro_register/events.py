"""The CallFinished event and its publisher, now in `porteiro_common.call_register`.

They moved there so the concierge can publish without installing the register's
database libraries; this module keeps the register's imports (and its callers') working.
"""

from porteiro_common.call_register import (
    CALL_FINISHED_QUEUE,
    CONTENT_TYPE,
    DEFAULT_BACKOFF,
    EVENTS_BUFFERED,
    EVENTS_CONFIRMED,
    EVENTS_DROPPED,
    EVENTS_RETRIED,
    MESSAGE_TYPE,
    CallFinishedPublisher,
    decode_call_finished,
    encode_call_finished,
)

__all__ = [
    "CALL_FINISHED_QUEUE",
    "CONTENT_TYPE",
    "DEFAULT_BACKOFF",
    "EVENTS_BUFFERED",
    "EVENTS_CONFIRMED",
    "EVENTS_DROPPED",
    "EVENTS_RETRIED",
    "MESSAGE_TYPE",
    "CallFinishedPublisher",
    "decode_call_finished",
    "encode_call_finished",
]
