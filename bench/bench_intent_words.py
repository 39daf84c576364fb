"""What scoring the intent words costs a greeting, and how often it makes the intent guess right.

Greetings as `make eval` draws them (espeak-ng pt-BR, four voices; the intent alone, the intent
with a resident, the visit with a resident), 8 kHz with the gateway's 0.3 s pre-roll and 0.6 s
end silence, go through the offline recogniser as the speech service runs it (the bundled base
model, the concierge's intent hints): once without candidate phrases, once with the answers
file's `intent_words`. Printed: wall and CPU seconds per greeting for both (one at a time), and,
for the greetings whose transcript gives no strong intent, how often the concierge's guess is
right without the scores (the text's lean, else a delivery) and with them (`heard_intent`).
Asserts nothing.

`python bench/bench_intent_words.py [--data FILE] [--residents N] [-v]`
"""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import replace
from pathlib import Path

from scored_recognition import BLOCKS_FILE, VOICES, Timings, on_the_line

from porteiro_concierge.hints import INTENT_HINTS
from porteiro_concierge.understanding.heard import heard_intent, intent_phrases
from porteiro_concierge.understanding.sets import TIE, Answers, Understanding
from porteiro_directory.data import load_apartments
from porteiro_speech.offline.whisper import WhisperRecognizer

# The answers file's commented-out `intent_words`, used when the file in use has none.
SUGGESTED_WORDS = {"delivery": ["entrega", "encomenda", "pacote", "pedido"], "visit": ["visita", "visitar"]}
INTENT_LINES = {
    "delivery": ("É uma entrega.", "Tenho uma encomenda.", "Entrega.", "Vim fazer uma entrega."),
    "visit": ("É uma visita.", "Eu sou visita.", "Visita.", "Vim fazer uma visita."),
}
WITH_RESIDENT = {
    "delivery": (
        "É uma entrega para {article} {first}.",
        "Bom dia. Tenho uma entrega para {article} {first}.",
    ),
    "visit": ("Vim visitar {article} {first}.", "Oi, é uma visita para {article} {first}."),
}


def greetings(path: Path, residents: int) -> list[tuple[str, str]]:
    """(intent, sentence): each intent line, and each line naming one of the first residents."""
    made = [(intent, line) for intent, lines in INTENT_LINES.items() for line in lines]
    names = [resident.name for apartment in load_apartments(path) for resident in apartment.residents]
    for name in names[:residents]:
        first = name.split()[0]
        article = "a" if first.endswith("a") else "o"
        for intent, lines in WITH_RESIDENT.items():
            made += [(intent, line.format(article=article, first=first)) for line in lines]
    return made


def text_guess(understanding: Understanding, text: str) -> str | None:
    """The concierge's guess from the text alone: None when the text reads strongly (no guess)."""
    reading = understanding.intent(text)
    if reading.strong:
        return None
    leads = reading.best is not None and (
        not reading.others or reading.best.confidence - reading.others[0].confidence >= TIE
    )
    return reading.best.value if leads and reading.best else "delivery"


async def run(args: argparse.Namespace) -> None:
    answers = Answers.load()
    if not answers.intent_words:  # off in the shipped answers file: the words it suggests
        answers = replace(answers, intent_words=SUGGESTED_WORDS)
    words = tuple(intent_phrases(answers.intent_words))
    understanding = Understanding(answers, [], [])
    recognizer = WhisperRecognizer(workers=1)
    await recognizer.start()
    items = [(intent, text, voice, speed) for intent, text in greetings(args.data, args.residents)
             for voice, speed in VOICES]  # fmt: skip
    print(
        f"load average before: {os.getloadavg()[0]:.2f}; {len(items)} greetings; intent words: {', '.join(words)}"
    )
    timings = Timings()
    guessed = right_before = right_after = 0
    for intent, text, voice, speed in items:
        audio = on_the_line(text, voice, speed)
        recognition = await timings.both(recognizer, audio, tuple(INTENT_HINTS), words)
        guess = text_guess(understanding, recognition.text)
        if guess is None:
            continue
        by_ear = heard_intent(recognition.phrase_scores, answers.intent_words)
        guessed += 1
        right_before += guess == intent
        right_after += (by_ear or guess) == intent
        if args.verbose:
            best = [(phrase, round(score, 1)) for phrase, score in recognition.phrase_scores[:3]]
            print(
                f"  {voice}@{speed} {text!r:48} -> {recognition.text!r:40} {intent}: {guess} -> {by_ear or guess} {best}"
            )
    await recognizer.close()
    timings.report("intent words", "greeting")
    print(
        f"greetings whose transcript gives no strong intent: {guessed}/{len(items)}; guess right "
        f"without the scores {right_before}, with them {right_after}"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=BLOCKS_FILE, help="directory file (default: the blocks one)"
    )
    parser.add_argument("--residents", type=int, default=4, help="greetings naming the first N residents")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="every transcript, guess and best scores"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
