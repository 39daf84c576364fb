"""Stopping a task whose loop awaits Redis commands, on Python 3.11.

redis-py sends each command through `asyncio.wait_for` when its client has a socket timeout
(the session store's does). On Python 3.11, `wait_for` returns the command's result instead
of raising CancelledError when the cancel lands just as the command's send completes
(CPython issue 86296, fixed in 3.12): the cancelled task goes on as if nothing happened.
The cancel request is still counted (`Task.cancelling()`), so a loop that is stopped only
by cancelling it (a leg's timer, the session lock's renewer) checks it after each such
await; otherwise it runs forever and whoever awaits its end (a leg's stream) never ends.
"""

from __future__ import annotations

import asyncio


def stop_if_cancelled() -> None:
    """Raise CancelledError if this task was cancelled and something it awaited swallowed it.

    Call it between awaits, outside any `asyncio.timeout` block (one expiring counts as a
    cancel request until it exits).
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
