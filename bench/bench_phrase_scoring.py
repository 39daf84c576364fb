"""What scoring candidate phrases costs a transcription, and how often it names the resident said.

Short answers to "Qual é o nome do morador?" (espeak-ng pt-BR, four voices and four phrasings
per resident, 8 kHz with the gateway's 0.3 s pre-roll and 0.6 s end silence) go through the
offline recogniser as the speech service runs it (`WhisperRecognizer`, the bundled base model,
the residents' names as hints): once without candidate phrases, once with the concierge's
(full and first names). Printed: wall and CPU seconds per answer for both (one at a time), the
phrases scored, how many answers were scored at all (a full name written in the transcript is
not), and how often the best-scored phrase names the resident said. Asserts nothing.

`python bench/bench_phrase_scoring.py [--data FILE] [--residents N]`
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from scored_recognition import BLOCKS_FILE, VOICES, Timings, on_the_line

from porteiro_concierge.understanding.heard import phrase_owners
from porteiro_concierge.understanding.sets import ResidentChoice
from porteiro_directory.data import load_apartments
from porteiro_speech.offline.whisper import WhisperRecognizer

LINES = (
    "{name}.",
    "{article} {first}.",
    "Quero falar com {article_lower} {first}.",
    "É para {article_lower} {first}.",
)


def residents(path: Path) -> list[ResidentChoice]:
    return [
        ResidentChoice(resident.name, apartment.number, tuple(resident.aliases), apartment.block)
        for apartment in load_apartments(path)
        for resident in apartment.residents
    ]


def answers(people: list[ResidentChoice]) -> list[tuple[str, str, str, int]]:
    """(resident key, text, voice, speed) for every resident, phrasing and voice."""
    made = []
    for person in people:
        first = person.name.split()[0]
        article = "A" if first.endswith("a") else "O"
        for line in LINES:
            text = line.format(name=person.name, first=first, article=article, article_lower=article.lower())
            made += [(person.key, text, voice, speed) for voice, speed in VOICES]
    return made


async def run(args: argparse.Namespace) -> None:
    people = residents(args.data)[: args.residents]
    owners = phrase_owners(people)
    phrases = tuple(owners)
    hints = tuple(person.name for person in people)
    recognizer = WhisperRecognizer(workers=1)
    await recognizer.start()
    timings = Timings()
    scored = right = 0
    items = answers(people)
    print(f"load average before: {os.getloadavg()[0]:.2f}; {len(items)} answers; {len(phrases)} phrases")
    for key, text, voice, speed in items:
        recognition = await timings.both(recognizer, on_the_line(text, voice, speed), hints, phrases)
        if recognition.phrase_scores:
            scored += 1
            right += owners.get(recognition.phrase_scores[0][0]) == key
        if args.verbose:
            best = recognition.phrase_scores[:2]
            print(f"  {voice}@{speed} {text!r:40} -> {recognition.text!r:35} {best}")
    await recognizer.close()
    timings.report("candidate phrases", "answer")
    print(
        f"answers scored: {scored}/{len(items)}; best-scored phrase names the resident said: {right}/{scored}"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=BLOCKS_FILE, help="directory file (default: the blocks one)"
    )
    parser.add_argument("--residents", type=int, default=8, help="the first N residents of the file")
    parser.add_argument("-v", "--verbose", action="store_true", help="every transcript and its best scores")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
