"""faster-whisper recognition: the model is loaded once, inference runs in a bounded pool.

Audio is buffered while the caller speaks (whisper needs the whole utterance);
`finish` resamples it to 16 kHz and runs the model in the pool's threads
(CTranslate2 releases the GIL, so the event loop stays free). The servicer
bounds how many transcriptions reach the pool at once, so inference never
queues inside it.

Encoder window. Whisper was trained on 30 s windows and faster-whisper pads every
utterance to 30 s (3,000 mel frames) before the encoder, so a 1 s "Sim." costs as much
encoder work as 30 s of speech. CTranslate2 accepts shorter mel inputs (since 3.19,
"Relax shape checks for Whisper input features"), the technique whisper.cpp exposes as
a reduced `audio_ctx`. With `window_margin_seconds` > 0 the encoder sees the utterance
plus that much silence, rounded up to a whole second (`fitted_window_frames`); the
decoding is the same greedy pass faster-whisper does. Too short a window makes whisper
lose track of where speech ends: it goes on after the answer ("Sim, pode subir. Sim, pode
subir.", "Entrega. Entregar."), so a transcript whose sentences echo each other
(`repeats_itself`) is recognised again over the full window. 0 keeps faster-whisper's own
30 s path. Measured in the README: not the default, accuracy drops.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import math
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from porteiro_speech import metrics
from porteiro_speech.audio import to_float_16k
from porteiro_speech.backends import BackendError, Recognition, RecognitionConfig
from porteiro_speech.model_assets import assemble_model
from porteiro_speech.offline.phrase_scoring import PhraseScorer, written_in
from porteiro_speech.offline.window import FULL_WINDOW_FRAMES, fitted_window_frames

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = logging.getLogger(__name__)
# faster-whisper logs every utterance's duration at INFO; our own spans and metrics carry that.
logging.getLogger("faster_whisper").setLevel(logging.WARNING)

# Whisper's prompt holds ~224 tokens; keep the hints well inside it.
MAX_PROMPT_CHARS = 600


def whisper_language(bcp47: str) -> str:
    """'pt-BR' -> 'pt': whisper takes the primary language subtag."""
    return bcp47.split("-")[0].split("_")[0].lower()


def initial_prompt(hints: tuple[str, ...]) -> str | None:
    """Hints as short capitalised sentences ("Entrega. Visita. Pode subir.").

    Measured on espeak-ng pt-BR speech: this form biases whisper base much more
    than a lower-case comma list ("entrega" alone gave "Entra a gás.").
    """
    sentences: list[str] = []
    length = 0
    for hint in hints:
        hint = " ".join(hint.split()).rstrip(".,;:!?")
        if not hint:
            continue
        sentence = hint[0].upper() + hint[1:] + "."
        if sentence in sentences:
            continue
        if length + len(sentence) + 1 > MAX_PROMPT_CHARS:
            break
        sentences.append(sentence)
        length += len(sentence) + 1
    return " ".join(sentences) or None


def repeats_itself(text: str, similar: float = 0.6) -> bool:
    """True when a sentence of `text` is much like the one before it ("Não. Não.",
    "Entrega. Entregar."): how whisper runs on past the answer given a short window."""
    sentences = [" ".join(re.findall(r"\w+", part.casefold())) for part in re.split(r"[.!?;]+", text)]
    sentences = [sentence for sentence in sentences if sentence]
    return any(
        difflib.SequenceMatcher(None, before, after).ratio() >= similar
        for before, after in zip(sentences, sentences[1:], strict=False)
    )


def max_tokens(audio_seconds: float) -> int:
    """Generous for speech (~5 tokens/s in pt-BR), short for hallucination loops."""
    return min(200, 10 + int(audio_seconds * 8))


def confidence_from(segments: list) -> float | None:
    """exp(mean token log-probability), weighted by segment length; None without segments."""
    weighted = [(segment.avg_logprob, max(1, len(segment.text))) for segment in segments]
    if not weighted:
        return None
    total = sum(weight for _, weight in weighted)
    mean_logprob = sum(logprob * weight for logprob, weight in weighted) / total
    return max(0.0, min(1.0, math.exp(mean_logprob)))


class WhisperSession:
    def __init__(self, recognizer: WhisperRecognizer, config: RecognitionConfig) -> None:
        self._recognizer = recognizer
        self._config = config
        self._audio = bytearray()

    async def feed(self, audio: bytes) -> None:
        self._audio += audio

    async def finish(self) -> Recognition:
        return await self._recognizer.transcribe(bytes(self._audio), self._config)

    async def cancel(self) -> None:
        self._audio.clear()


class WhisperRecognizer:
    """The offline `Recognizer`."""

    name = "whisper"

    def __init__(
        self,
        model: str | Path | None = None,
        workers: int = 2,
        compute_type: str = "int8",
        beam_size: int = 1,
        cpu_threads: int = 0,
        no_speech_threshold: float = 0.6,
        window_margin_seconds: float = 0.0,
    ) -> None:
        # None = the bundled base model, assembled (once) when the service starts.
        self.model_source = str(model) if model else None
        self.workers = workers
        self.compute_type = compute_type
        self.beam_size = beam_size
        self.cpu_threads = cpu_threads
        self.no_speech_threshold = no_speech_threshold
        self.window_margin_seconds = window_margin_seconds
        self._model: WhisperModel | None = None
        self._scorer: PhraseScorer | None = None
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="whisper")

    async def start(self) -> None:
        """Load the model once, off the event loop."""
        loop = asyncio.get_running_loop()
        self._model = await loop.run_in_executor(self._pool, self._load)
        self._scorer = PhraseScorer(self._model)
        log.info("whisper model loaded", extra={"model": self.model_source, "workers": self.workers})

    def _load(self) -> WhisperModel:
        from faster_whisper import WhisperModel

        try:
            if self.model_source is None:
                self.model_source = str(assemble_model())
            return WhisperModel(
                self.model_source,
                device="cpu",
                compute_type=self.compute_type,
                cpu_threads=self.cpu_threads,
                num_workers=self.workers,
            )
        except Exception as error:  # the library raises many kinds
            raise BackendError(f"cannot load whisper model {self.model_source}: {error}") from error

    async def open(self, config: RecognitionConfig) -> WhisperSession:
        if self._model is None:
            raise BackendError("whisper model is not loaded")
        return WhisperSession(self, config)

    async def transcribe(self, audio: bytes, config: RecognitionConfig) -> Recognition:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._transcribe_blocking, audio, config)

    def _transcribe_blocking(self, audio: bytes, config: RecognitionConfig) -> Recognition:
        samples = to_float_16k(audio, config.sample_rate_hz)
        recognition = self._recognise(samples, config)
        if not recognition.text or not config.candidate_phrases:
            return recognition
        return replace(recognition, phrase_scores=self._phrase_scores(samples, recognition.text, config))

    def _phrase_scores(
        self, samples: np.ndarray, transcript: str, config: RecognitionConfig
    ) -> tuple[tuple[str, float], ...]:
        """The candidate phrases scored against the audio (phrase_scoring), unless the transcript
        already holds one word for word. A failure costs the scores, not the transcript."""
        from faster_whisper.tokenizer import Tokenizer

        phrases = list(config.candidate_phrases)
        if written_in(transcript, phrases):
            return ()
        assert self._model is not None and self._scorer is not None
        began = time.perf_counter()
        try:
            tokenizer = Tokenizer(
                self._model.hf_tokenizer,
                self._model.model.is_multilingual,
                task="transcribe",
                language=whisper_language(config.language),
            )
            scores = self._scorer.score(samples, transcript, phrases, tokenizer)
        except Exception as error:  # noqa: BLE001 - scores are a help; the transcript stands without them
            log.warning("phrase scoring failed", extra={"error": str(error)})
            return ()
        metrics.PHRASE_SCORING_SECONDS.observe(time.perf_counter() - began)
        return tuple(scores)

    def _recognise(self, samples: np.ndarray, config: RecognitionConfig) -> Recognition:
        assert self._model is not None
        audio_frames = len(samples) // 160
        margin = self.window_margin_seconds
        if margin > 0 and fitted_window_frames(audio_frames, margin) < FULL_WINDOW_FRAMES:
            fitted = self._transcribe_fitted(samples, config)
            if not repeats_itself(fitted.text):
                return fitted
            metrics.WHISPER_WINDOW_RETRIES.inc()  # and again over the full window, below
        try:
            segments, _ = self._model.transcribe(
                samples,
                language=whisper_language(config.language),
                beam_size=self.beam_size,
                initial_prompt=initial_prompt(config.hints),
                condition_on_previous_text=False,
                without_timestamps=True,
                # One greedy pass, no temperature fallback, no n-gram loops, tokens bounded by
                # the audio length: a garbled utterance costs one decode, not six.
                temperature=0.0,
                no_repeat_ngram_size=3,
                max_new_tokens=max_tokens(len(samples) / 16000),
            )
            segments = list(segments)  # the generator does the decoding
        except Exception as error:
            raise BackendError(f"whisper failed: {error}") from error
        # Biased by the hints, whisper may "hear" a hint in loud noise (measured: a hint echoed with
        # no_speech_prob 0.73, real short answers at most 0.27); such segments are not speech.
        segments = [segment for segment in segments if segment.no_speech_prob <= self.no_speech_threshold]
        text = " ".join(segment.text.strip() for segment in segments).strip()
        return Recognition(text=text, confidence=confidence_from(segments) if text else None)

    def _transcribe_fitted(self, samples: np.ndarray, config: RecognitionConfig) -> Recognition:
        """One greedy decode over an encoder window fitted to the utterance (see the module doc).

        Same options as the 30 s path: language, hints as the previous text, no timestamps,
        suppressed non-speech tokens, `no_repeat_ngram_size=3`, token budget by audio length."""
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        model = self._model
        assert model is not None
        try:
            # Called without chunk_length: the extractor's shared state is left alone (threads).
            features = model.feature_extractor(samples)
            audio_frames = features.shape[-1]
            window = fitted_window_frames(audio_frames, self.window_margin_seconds)
            features = np.pad(features, ((0, 0), (0, window - audio_frames)))  # zeros, as faster-whisper pads
            encoder_output = model.encode(features)
            tokenizer = Tokenizer(
                model.hf_tokenizer,
                model.model.is_multilingual,
                task="transcribe",
                language=whisper_language(config.language),
            )
            hints = initial_prompt(config.hints)
            previous = tokenizer.encode(" " + hints) if hints else []
            prompt = model.get_prompt(tokenizer, previous, without_timestamps=True)
            result = model.model.generate(
                encoder_output,
                [prompt],
                beam_size=self.beam_size,
                max_length=len(prompt) + max_tokens(len(samples) / 16000),
                no_repeat_ngram_size=3,
                return_scores=True,
                return_no_speech_prob=True,
                suppress_blank=True,
                suppress_tokens=get_suppressed_tokens(tokenizer, (-1,)),
            )[0]
        except Exception as error:
            raise BackendError(f"whisper failed: {error}") from error
        tokens = result.sequences_ids[0]
        if result.no_speech_prob > self.no_speech_threshold:
            return Recognition(text="", confidence=None)
        text = tokenizer.decode(tokens).strip()
        if not text:
            return Recognition(text="", confidence=None)
        # CTranslate2's score is the length-normalised sum; faster-whisper's avg_logprob is sum / (n + 1).
        mean_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        return Recognition(text=text, confidence=max(0.0, min(1.0, math.exp(mean_logprob))))

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._model = None
