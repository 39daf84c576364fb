"""Closed-set matching of one answer against a large directory (issue 14: p99 under 5 ms).

Run from the repository root:
    .venv/bin/python bench/bench_matcher.py [--residents 10000] [--answers 2000]

The directory is bench_directory's synthetic condominium (towers 1-10, 2-3 residents an
apartment, names drawn from common Brazilian first names and surnames). Each answer is a
resident's name as a recogniser might write it (full, first + last, one letter changed or
dropped, honorifics), matched against every resident (`Understanding.resident` with no
apartment: the worst case) and, separately, against the apartment numbers. Building the closed
sets is timed too (done once per vocabulary refresh, not per answer). Prints figures and the
machine's load; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_directory import synthetic_condominium  # noqa: E402

from porteiro_concierge.understanding import Answers, ResidentChoice, Understanding  # noqa: E402


def misheard(name: str, rng: random.Random) -> str:
    """The full name as a recogniser might write it: sometimes a letter lost or changed."""
    form = rng.choice([name, f"dona {name}", f"{name}, por favor"])
    if rng.random() < 0.5 and len(form) > 4:
        position = rng.randrange(1, len(form) - 1)
        form = form[:position] + rng.choice(["", "e", "a", "m"]) + form[position + 1 :]
    return form


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return (
        f"p50 {pick(0.5):5.2f} ms  p95 {pick(0.95):5.2f} ms  p99 {pick(0.99):5.2f} ms  "
        f"max {ordered[-1] * 1000:5.2f} ms  mean {statistics.fmean(ordered) * 1000:5.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=10_000)
    parser.add_argument("--answers", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()

    apartments = synthetic_condominium(args.residents)
    residents = [
        ResidentChoice(resident["name"], apartment["number"], tuple(resident["aliases"]))
        for apartment in apartments
        for resident in apartment["residents"]
    ]
    numbers = sorted({apartment["number"] for apartment in apartments})
    began = time.perf_counter()
    understanding = Understanding(Answers.load(), residents, numbers)
    built = time.perf_counter() - began

    rng = random.Random(args.seed)
    answers = [(misheard(choice.name, rng), choice.key) for choice in rng.choices(residents, k=args.answers)]
    for answer, _ in answers[:50]:  # warm-up (phonetic key cache, numpy)
        understanding.resident(answer)
    resident_times, right = [], 0
    for answer, key in answers:
        began = time.perf_counter()
        reading = understanding.resident(answer)
        resident_times.append(time.perf_counter() - began)
        # Synthetic names repeat (the same full name in several apartments): right when the best
        # reading is a resident of that name.
        right += bool(reading.best and reading.best.value.split("/", 1)[1] == key.split("/", 1)[1])
    spoken = [rng.choice(numbers) for _ in range(args.answers)]
    apartment_times = []
    for number in spoken:
        began = time.perf_counter()
        understanding.apartment(f"apartamento {number}")
        apartment_times.append(time.perf_counter() - began)

    load = os.getloadavg()
    print(f"closed-set matcher: {len(residents)} residents, {len(numbers)} apartment numbers")
    print(f"  building the sets (once per vocabulary refresh): {built * 1000:.0f} ms")
    print(f"  one answer vs every resident ({args.answers} answers): {percentiles(resident_times)}")
    print(f"    best reading has the meant resident's name: {right}/{len(answers)}")
    print(f"  one answer vs every apartment number: {percentiles(apartment_times)}")
    print(f"  load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
