"""Closed-set matching of one answer against a large directory (issue 14: p99 under 5 ms).

Run from the repository root:
    .venv/bin/python bench/bench_matcher.py [--residents 10000] [--answers 2000] [--surnames 4000]

The directory is bench_directory's synthetic condominium (towers 1-10, 2-3 residents an
apartment, names drawn from common Brazilian first names and surnames; `--surnames N` draws
surnames from N made-up ones instead, for a directory with thousands of distinct words). Each answer is a
resident's name as a recogniser might write it (full, first + last, one letter changed or
dropped, honorifics), matched against every resident (`Understanding.resident` with no
apartment: the worst case) and, separately, against the apartment numbers. Building the closed
sets is timed too (done once per vocabulary refresh, not per answer). Prints wall-clock figures,
the thread's CPU time per answer (which a loaded machine does not stretch), and the machine's
load; asserts nothing.
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


SYLLABLES = "ba be bi bo ca ce ci co da de di do fa fe fi ga go la le li lo ma me mi mo na ne ni no pa pe pi ra re ri ro sa se si ta te ti va ve vi za".split()


def diversify(apartments: list[dict], surnames: int, rng: random.Random) -> None:
    """Give residents surnames from a pool of `surnames` made-up ones: a directory with thousands
    of distinct words (the synthetic one has about 90), the matcher's per-word cost."""
    pool = sorted(
        {"".join(rng.choices(SYLLABLES, k=rng.choice((2, 3, 4)))).capitalize() for _ in range(surnames)}
    )
    for apartment in apartments:
        for resident in apartment["residents"]:
            first = resident["name"].split()[0]
            resident["name"] = f"{first} {rng.choice(pool)} {rng.choice(pool)}"


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
    parser.add_argument(
        "--surnames",
        type=int,
        default=0,
        help="draw surnames from this many made-up ones (0: the common ones)",
    )
    args = parser.parse_args()

    apartments = synthetic_condominium(args.residents)
    if args.surnames:
        diversify(apartments, args.surnames, random.Random(args.seed))
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
    resident_times, resident_cpu, right = [], [], 0
    for answer, key in answers:
        began, began_cpu = time.perf_counter(), time.thread_time()
        reading = understanding.resident(answer)
        resident_cpu.append(time.thread_time() - began_cpu)
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
    words = len({word for resident in residents for word in resident.name.split()})
    print(
        f"closed-set matcher: {len(residents)} residents ({words} distinct words), {len(numbers)} apartment numbers"
    )
    print(f"  building the sets (once per vocabulary refresh): {built * 1000:.0f} ms")
    print(f"  one answer vs every resident ({args.answers} answers): {percentiles(resident_times)}")
    print(f"    CPU time of this thread (what load does not stretch): {percentiles(resident_cpu)}")
    print(f"    best reading has the meant resident's name: {right}/{len(answers)}")
    print(f"  one answer vs every apartment number: {percentiles(apartment_times)}")
    print(f"  load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
