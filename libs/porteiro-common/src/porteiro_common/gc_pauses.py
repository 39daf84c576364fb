"""Garbage-collection pauses, as the histogram `porteiro_gc_pause_seconds{generation}`.

A collection stops every thread of the process for as long as it walks the objects of its
generation. In the gateway that stops the 20 ms playback schedule: before issue 15's fixes, full
collections of the soak's dead legs took up to 454 ms (`bench/bench_soak.py --calls 200`,
load 10–14; gateway README), and only the rebased frames showed it.
Each service exports this histogram so that such pauses are seen where they happen (the
dashboard's "Garbage-collection pauses" panel).

Recorded from `gc.callbacks`, which run in whatever thread allocated, in the middle of anything,
even while prometheus_client holds one of its locks: the callback takes no lock and calls no
metric, it only adds to plain counts that the scrape reads (as the gateway's LoopHistogram).
"""

from __future__ import annotations

import gc
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector

from porteiro_common.metrics import cumulative_buckets

NAME = "porteiro_gc_pause_seconds"
DOCUMENTATION = "How long each garbage collection stopped the process, by generation (2 = full)"
GC_PAUSE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
GENERATIONS = 3


class GcPauses(Collector):
    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self.bounds = list(GC_PAUSE_BUCKETS)
        # Per generation: counts per bucket (not cumulative; the last is above every bound), sum.
        self.counts = [[0] * (len(self.bounds) + 1) for _ in range(GENERATIONS)]
        self.sums = [0.0] * GENERATIONS
        self._started = 0.0

    def on_collection(self, phase: str, info: dict[str, Any]) -> None:
        """A `gc.callbacks` entry: called at the start and the stop of every collection."""
        if phase == "start":
            self._started = self._clock()
            return
        generation = info["generation"]
        pause = self._clock() - self._started
        self.counts[generation][bisect_left(self.bounds, pause)] += 1
        self.sums[generation] += pause

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(NAME, DOCUMENTATION, labels=["generation"])
        for generation in range(GENERATIONS):
            buckets = cumulative_buckets(self.bounds, self.counts[generation])
            family.add_metric([str(generation)], buckets, self.sums[generation])
        yield family


_watching: GcPauses | None = None


def watch_gc_pauses(registry: CollectorRegistry = REGISTRY) -> GcPauses:
    """Record this process's collections from now on (once per process; later calls return the same)."""
    global _watching
    if _watching is None:
        _watching = GcPauses()
        registry.register(_watching)
        gc.callbacks.append(_watching.on_collection)
    return _watching
