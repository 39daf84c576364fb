"""Talk to Porteiro from a laptop: microphone in, speaker out, over AudioSocket like Asterisk.

    pip install -e 'sim[microphone]'      # PyAudio (needs portaudio19-dev to build)
    python -m porteiro_sim.microphone --port 8080          # the visitor
    python -m porteiro_sim.microphone --port 8081 --uuid <session id>   # answer as the resident

Type digits and Enter to send DTMF keys; Ctrl-C hangs up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from typing import Any

from porteiro_common.audiosocket import FRAME_BYTES, SLIN_RATE
from porteiro_sim.audiosocket_client import AudioSocketClient

INSTALL_HINT = (
    "the microphone client needs PyAudio: `.venv/bin/pip install -e 'sim[microphone]'` "
    "(on Debian/Ubuntu first `apt-get install portaudio19-dev`)"
)


def load_pyaudio() -> Any:
    try:
        import pyaudio
    except ImportError:
        raise SystemExit(INSTALL_HINT) from None
    return pyaudio


class MicrophoneCall:
    """Streams microphone frames into the call and plays what comes back."""

    def __init__(self, client: AudioSocketClient, pyaudio_module: Any) -> None:
        self.client = client
        self._audio = pyaudio_module.PyAudio()
        fmt = pyaudio_module.paInt16
        self._input = self._audio.open(
            format=fmt, channels=1, rate=SLIN_RATE, input=True, frames_per_buffer=FRAME_BYTES // 2
        )
        self._output = self._audio.open(format=fmt, channels=1, rate=SLIN_RATE, output=True)
        self._played = 0

    async def run(self) -> None:
        await asyncio.gather(self._capture(), self._playback(), self._keys())

    async def _capture(self) -> None:
        # Each read blocks for 20 ms of audio: the sound card paces the frames, as on a phone line.
        while not self.client.closed:
            frame = await asyncio.to_thread(self._input.read, FRAME_BYTES // 2, False)
            sent = self.client.enqueue(frame)
            sent.add_done_callback(lambda future: future.cancelled() or future.exception())

    async def _playback(self) -> None:
        while not self.client.closed:
            received = bytes(self.client.received_pcm[self._played :])
            if received:
                self._played += len(received)
                await asyncio.to_thread(self._output.write, received)
            else:
                await asyncio.sleep(0.02)

    async def _keys(self) -> None:
        while not self.client.closed:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                return
            digits = "".join(key for key in line.strip() if key in "0123456789*#ABCD")
            if digits:
                await self.client.send_dtmf(digits)

    def close(self) -> None:
        for stream in (self._input, self._output):
            with contextlib.suppress(Exception):
                stream.stop_stream()
                stream.close()
        self._audio.terminate()


async def _main(args: argparse.Namespace) -> int:
    pyaudio_module = load_pyaudio()
    # The microphone provides the audio: the client must not add its own silence frames.
    client = AudioSocketClient(args.host, args.port, args.uuid, send_silence=False)
    await client.connect()
    print(
        f"connected to {args.host}:{args.port} as {client.session_id}; speak, type keys + Enter, Ctrl-C ends"
    )
    call = MicrophoneCall(client, pyaudio_module)
    try:
        task = asyncio.create_task(call.run())
        await client.wait_closed(args.max_seconds)
        task.cancel()
    finally:
        await client.hang_up()
        call.close()
    print(f"call ended ({client.close_reason})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Talk to Porteiro with your microphone (AudioSocket client)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="8080 visitor, 8081 resident")
    parser.add_argument("--uuid", default=None, help="AudioSocket UUID (the visitor's session id for 8081)")
    parser.add_argument("--max-seconds", type=float, default=600.0)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_main(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
