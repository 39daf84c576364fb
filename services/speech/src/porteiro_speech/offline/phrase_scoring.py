"""Closed-set scoring: how well each expected phrase fits an utterance, by whisper's own model.

Whisper's free transcript of a name on an 8 kHz line is often another word ("Roberto" written
"Homem", "Fomeiro"), and no matching on text brings it back. But whisper can still say which of
a few known phrases the audio fits best: force-decode each candidate (CTranslate2's `align`
gives the probability of every token of a given text) and compare.

How a phrase is scored:
- the candidate is decoded after a prefix, so that "É para o Roberto" can be scored on
  "Roberto": the prefixes are word boundaries of the free transcript, and the best of them
  counts: nothing and all but its last word (a name answer's name is usually last: "Quero falar
  com o Roberto"), then its first word, its first two words, … (an intent word may be anywhere
  in a greeting: "Oi, é uma visita para a Luiza", heard "Oi, minita da Pau, …"), as many as
  `MAX_DECODES` shared by the phrases allows (two at least, twelve at most);
- only the phrase's own tokens count, as the mean log-probability per token;
- less the same phrase's mean log-probability given silence (pointwise mutual information):
  whisper's language model alone finds "José Antônio Ferreira" easy to continue once "José"
  is written, and would prefer long names without that correction.

Measured by a one-off prototype script, not kept: the blocks file, espeak-ng pt-br, pt-br+f2, pt-br+m3, pt-br+m1 at 140–160 wpm, whisper base, 2026-12-01 19:40–19:53 UTC, load average 0.4–0.7,
on speech at 8 kHz, 8 residents of the blocks condominium, 4 voices, 4
phrasings each (128 utterances, first names and full names as candidates): the best-scored
resident was right in 88 (69%; Luiza and Luísa Mendes, said alike, counted as one), the best
fuzzy match of the transcript's text in 46 (counted apart); on the 57 whose transcript the
concierge's matcher could not read at all, right in 28. What it costs: bench/bench_phrase_scoring.py
(0.35 s of wall time more per name answer for 19 phrases on the 2-core machine: a fitted
encoder window and one batched `align`).
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np

from porteiro_common.ptbr import plain
from porteiro_speech.offline.window import FRAMES_PER_SECOND, fitted_window_frames

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from faster_whisper.tokenizer import Tokenizer

# Silence after the utterance in the encoder's window, as whisper saw in training.
MARGIN_SECONDS = 1.0
# Probabilities are floored here before the log (align reports 0 for impossible tokens).
MIN_PROBABILITY = 1e-9
# Word boundaries of a transcript a phrase is tried after, at most (nothing included): a phrase is
# decoded once per boundary, so a long greeting costs that many times its phrases.
MAX_PREFIXES = 12
# Forced decodes per utterance, shared by its phrases (each tried after fewer boundaries when there
# are many). Without it 37 names after every boundary of "Quero falar com a Bruna Almeida" made
# 222 decodes: the transcription missed the gateway's 10 s deadline on the loaded 2-core machine
# (make eval, seed 51) and the call ended on the technical-problem sentence. With 96, a name
# answer's 19 phrases got five boundaries for nothing (bench/bench_phrase_scoring.py: the best
# phrase right in 67 of 107 answers instead of 66, 3.03 CPU-s per answer instead of 2.33); with
# 48 names keep the two they had and a greeting's six intent words get eight.
MAX_DECODES = 48
# Phrases' scores given silence, kept for the next utterances (a directory's names recur).
PRIOR_CACHE_ENTRIES = 4096


def words_of(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def prefixes(transcript: str, limit: int = MAX_PREFIXES) -> list[str]:
    """The transcript's word boundaries a phrase is tried after, at most `limit` of them: nothing
    and all but its last word first (a name answer's name is usually last: "É para o Roberto"),
    then its first word, its first two words, … (an intent word anywhere in a greeting)."""
    words = words_of(transcript)
    cut = [" ".join(words[:end]) for end in range(1, len(words))]
    return ["", *cut[-1:], *cut[:-1]][: max(1, min(limit, MAX_PREFIXES))]


def prefix_limit(phrases: int) -> int:
    """How many word boundaries each of `phrases` phrases is tried after: `MAX_DECODES` shared,
    never fewer than two (nothing, and all but the last word), never more than `MAX_PREFIXES`."""
    return min(MAX_PREFIXES, max(2, MAX_DECODES // max(1, phrases)))


def written_in(transcript: str, phrases: list[str]) -> bool:
    """True when the transcript holds one of the phrases of two words or more word for word: the
    scores would add nothing. One word is not enough: biased by its hints, whisper writes a name
    from them for speech it cannot make out ("João Oliveira." for "Dona Letícia.", make eval)."""
    said = f" {' '.join(words_of(plain(transcript)))} "
    return any(
        f" {' '.join(words_of(plain(phrase)))} " in said for phrase in phrases if len(words_of(phrase)) > 1
    )


class PhraseScorer:
    """Scores candidate phrases against one utterance's audio with a loaded faster-whisper model."""

    def __init__(self, model: WhisperModel) -> None:
        self._model = model
        self._prior: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._prior_lock = threading.Lock()  # the recognition pool's threads share the cache

    def score(
        self, samples: np.ndarray, transcript: str, phrases: list[str], tokenizer: Tokenizer
    ) -> list[tuple[str, float]]:
        """(phrase, score) best first; see the module doc for the score."""
        phrases = [phrase for phrase in dict.fromkeys(phrases) if words_of(phrase)]
        if not phrases or not samples.size:
            return []
        tokens = {phrase: tokenizer.encode(" " + phrase) for phrase in phrases}
        encoder_output, audio_frames = self._encode(samples)
        best: dict[str, float] = {}
        sequences, owners = [], []
        for prefix in prefixes(transcript, prefix_limit(len(phrases))):
            prefix_tokens = tokenizer.encode(" " + prefix) if prefix else []
            for phrase in phrases:
                sequences.append(prefix_tokens + tokens[phrase])
                owners.append((phrase, len(prefix_tokens)))
        for (phrase, skip), logprobs in zip(
            owners, self._token_logprobs(encoder_output, audio_frames, sequences, tokenizer), strict=True
        ):
            mean = sum(logprobs[skip:]) / len(tokens[phrase])
            best[phrase] = max(best.get(phrase, -math.inf), mean)
        priors = self._priors(phrases, tokens, tokenizer)
        scored = [(phrase, best[phrase] - priors[phrase]) for phrase in phrases]
        return sorted(scored, key=lambda item: -item[1])

    def _encode(self, samples: np.ndarray) -> tuple[np.ndarray, int]:
        features = self._model.feature_extractor(samples)
        audio_frames = features.shape[-1]
        window = fitted_window_frames(audio_frames, MARGIN_SECONDS)
        features = np.pad(features[:, :window], ((0, 0), (0, max(0, window - audio_frames))))
        return np.array(self._model.encode(features)), min(audio_frames, window)

    def _token_logprobs(
        self, encoder_output: np.ndarray, audio_frames: int, sequences: list[list[int]], tokenizer: Tokenizer
    ) -> list[list[float]]:
        import ctranslate2

        batch = ctranslate2.StorageView.from_array(np.repeat(encoder_output, len(sequences), axis=0))
        # num_frames is in encoder frames (half the mel frames); align needs it for its timings only.
        results = self._model.model.align(
            batch, tokenizer.sot_sequence, sequences, [max(1, audio_frames // 2)] * len(sequences)
        )
        return [
            [math.log(max(probability, MIN_PROBABILITY)) for probability in result.text_token_probs]
            for result in results
        ]

    def _priors(
        self, phrases: list[str], tokens: dict[str, list[int]], tokenizer: Tokenizer
    ) -> dict[str, float]:
        """Each phrase's mean log-probability per token given a second of silence (cached)."""
        language = tokenizer.language_code
        with self._prior_lock:
            priors = {p: self._prior[(language, p)] for p in phrases if (language, p) in self._prior}
        missing = [phrase for phrase in phrases if phrase not in priors]
        if missing:
            encoder_output, frames = self._encode(np.zeros(FRAMES_PER_SECOND * 160, dtype=np.float32))
            logprobs = self._token_logprobs(encoder_output, frames, [tokens[p] for p in missing], tokenizer)
            for phrase, values in zip(missing, logprobs, strict=True):
                priors[phrase] = sum(values) / len(values)
        with self._prior_lock:
            for phrase in phrases:
                self._prior[(language, phrase)] = priors[phrase]
                self._prior.move_to_end((language, phrase))
            while len(self._prior) > PRIOR_CACHE_ENTRIES:
                self._prior.popitem(last=False)
        return priors
