"""Shared by the benches of candidate phrases (bench_phrase_scoring.py, bench_intent_words.py):
espeak-ng utterances on the line, recognised with and without phrases, timed."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from porteiro_speech.backends import Recognition, RecognitionConfig
from porteiro_speech.offline.espeak import synthesize_slin
from porteiro_speech.offline.whisper import WhisperRecognizer

VOICES = (("pt-br", 150), ("pt-br+f2", 140), ("pt-br+m3", 150), ("pt-br+m1", 140))
# The gateway's pre-roll before an utterance and the silence that ends it.
PRE_ROLL, END_SILENCE = b"\x00\x00" * 2400, b"\x00\x00" * 4800
BLOCKS_FILE = (
    Path(__file__).resolve().parent.parent / "tests" / "directory" / "data" / "condominio_blocos.yaml"
)


def on_the_line(text: str, voice: str, speed: int) -> bytes:
    """`text` as the speech service receives it from the gateway: 8 kHz, with its silences."""
    return PRE_ROLL + synthesize_slin(text, voice=voice, rate_hz=8000, speed=speed) + END_SILENCE


@dataclass
class Timings:
    """Wall and CPU seconds of each recognition, without and with candidate phrases."""

    wall: dict[bool, list[float]] = field(default_factory=lambda: {False: [], True: []})
    cpu: dict[bool, list[float]] = field(default_factory=lambda: {False: [], True: []})

    async def both(
        self, recognizer: WhisperRecognizer, audio: bytes, hints: tuple[str, ...], phrases: tuple[str, ...]
    ) -> Recognition:
        """Recognise `audio` without the phrases, then with them (returned)."""
        recognition = None
        for scored in (False, True):
            began, began_cpu = time.perf_counter(), time.process_time()
            recognition = await recognizer.transcribe(
                audio, RecognitionConfig(8000, "pt-BR", hints, phrases if scored else ())
            )
            self.wall[scored].append(time.perf_counter() - began)
            self.cpu[scored].append(time.process_time() - began_cpu)
        assert recognition is not None
        return recognition

    def report(self, what: str, per: str) -> None:
        for scored, label in ((False, "without"), (True, "with")):
            wall, cpu = self.wall[scored], self.cpu[scored]
            print(
                f"{label:7} {what}: wall p50 {statistics.median(wall):.2f} s, mean {statistics.fmean(wall):.2f} s, "
                f"p95 {statistics.quantiles(wall, n=20)[-1]:.2f} s; CPU {statistics.fmean(cpu):.2f} s per {per}"
            )
