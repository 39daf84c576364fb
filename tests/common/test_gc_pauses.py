"""porteiro_gc_pause_seconds: every collection's pause, by generation, without a lock in the callback."""

from __future__ import annotations

import gc

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from porteiro_common.gc_pauses import GcPauses


class SteppedClock:
    """A clock the test moves: each reading is the next value."""

    def __init__(self, *readings: float) -> None:
        self._readings = list(readings)

    def __call__(self) -> float:
        return self._readings.pop(0)


def samples(registry: CollectorRegistry) -> dict[tuple[str, str, str], float]:
    text = generate_latest(registry).decode()
    return {
        (sample.name, sample.labels.get("generation", ""), sample.labels.get("le", "")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_each_collection_is_one_observation_of_its_pause_in_its_generation():
    pauses = GcPauses(clock=SteppedClock(10.0, 10.003, 20.0, 20.4))
    registry = CollectorRegistry()
    registry.register(pauses)
    pauses.on_collection("start", {"generation": 0})
    pauses.on_collection("stop", {"generation": 0, "collected": 5, "uncollectable": 0})
    pauses.on_collection("start", {"generation": 2})
    pauses.on_collection("stop", {"generation": 2, "collected": 90_000, "uncollectable": 0})
    got = samples(registry)
    assert got[("porteiro_gc_pause_seconds_count", "0", "")] == 1
    assert abs(got[("porteiro_gc_pause_seconds_sum", "0", "")] - 0.003) < 1e-9
    assert got[("porteiro_gc_pause_seconds_bucket", "0", "0.0025")] == 0
    assert got[("porteiro_gc_pause_seconds_bucket", "0", "0.005")] == 1
    assert got[("porteiro_gc_pause_seconds_bucket", "2", "0.25")] == 0  # a 400 ms full collection
    assert got[("porteiro_gc_pause_seconds_bucket", "2", "0.5")] == 1
    assert got[("porteiro_gc_pause_seconds_bucket", "2", "+Inf")] == 1
    assert got[("porteiro_gc_pause_seconds_count", "1", "")] == 0  # every generation is a series at zero


def test_real_collections_are_recorded_from_gc_callbacks():
    pauses = GcPauses()
    registry = CollectorRegistry()
    registry.register(pauses)
    gc.callbacks.append(pauses.on_collection)
    try:
        gc.collect()
        gc.collect(0)
    finally:
        gc.callbacks.remove(pauses.on_collection)
    got = samples(registry)
    assert got[("porteiro_gc_pause_seconds_count", "2", "")] >= 1
    assert got[("porteiro_gc_pause_seconds_count", "0", "")] >= 1
    assert got[("porteiro_gc_pause_seconds_sum", "2", "")] > 0
