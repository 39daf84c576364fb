"""A leg's deadlines: its UUID, its first audio, audio that stops, the call's length.

Asterisk sends the UUID frame at once and then a 20 ms audio frame every 20 ms,
silence included, for as long as the call lasts. A connection that does not is
broken or hostile, and would otherwise hold a leg of the table (issue 15: 500
connections that sent a UUID and then nothing held all 300 legs for ~35 s):

- no UUID within `UUID_TIMEOUT_SECONDS`: protocol error `uuid_timeout`;
- no audio within `FIRST_AUDIO_TIMEOUT_SECONDS` of the UUID: `no_audio`;
- audio that stops for `AUDIO_TIMEOUT_SECONDS` mid-call: `audio_stopped` (noticed within
  a quarter of that more; a hung Asterisk, which also stops reading, ends this way);
- `MAX_CALL_SECONDS`: MAX_DURATION.

Each protocol error ends the leg with a hangup frame and counts in
`porteiro_gateway_protocol_errors_total{error}`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from porteiro.concierge.v1 import concierge_pb2
from porteiro_common.audiosocket import ProtocolError
from porteiro_gateway.settings import GatewaySettings
from porteiro_gateway.time_source import TimeSource

Reason = concierge_pb2.LegEndReason
CHECKS_PER_AUDIO_TIMEOUT = 4  # how often, within AUDIO_TIMEOUT_SECONDS, the audio count is looked at


class TimedSocket(Protocol):
    """What the timers watch and report to (the leg's CallerSocket)."""

    session_id: str

    @property
    def frames_received(self) -> int: ...

    def protocol_error(self, error: ProtocolError) -> None: ...


class LegTimers:
    def __init__(
        self,
        settings: GatewaySettings,
        time: TimeSource,
        socket: TimedSocket,
        end: Callable[[Reason, str], None],
    ) -> None:
        self._settings = settings
        self._time = time
        self._socket = socket
        self._end = end

    def start(self, spawn: Callable[[Coroutine[Any, Any, None]], None]) -> None:
        """The deadlines that run from the connection on (the audio's start with the UUID)."""
        spawn(self.expect_uuid())
        spawn(self.limit_duration())

    async def limit_duration(self) -> None:
        await self._time.sleep(self._settings.max_call_seconds)
        self._end(Reason.LEG_END_REASON_MAX_DURATION, "maximum call duration reached")

    async def expect_uuid(self) -> None:
        await self._time.sleep(self._settings.uuid_timeout_seconds)
        if not self._socket.session_id:
            self._socket.protocol_error(ProtocolError("uuid_timeout", "no UUID frame in time"))

    async def watch_audio(self) -> None:
        """From the UUID on: end the leg when its audio does not come, or stops."""
        socket, time = self._socket, self._time
        first = self._settings.first_audio_timeout_seconds
        at_uuid = socket.frames_received
        await time.sleep(first)
        if socket.frames_received == at_uuid:
            socket.protocol_error(ProtocolError("no_audio", f"no audio within {first:g} s of the UUID"))
            return
        limit = self._settings.audio_timeout_seconds
        seen, seen_at = socket.frames_received, time.now()
        while True:
            await time.sleep(limit / CHECKS_PER_AUDIO_TIMEOUT)
            now = time.now()
            if socket.frames_received != seen:
                seen, seen_at = socket.frames_received, now
            elif now - seen_at >= limit - 1e-9:
                socket.protocol_error(ProtocolError("audio_stopped", f"no audio for {limit:g} s"))
                return
