"""Reading a service's Prometheus /metrics page (for checks and the bench's breakdown)."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def scrape(url: str, timeout_seconds: float = 3.0) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} for every sample on the page."""
    with urllib.request.urlopen(url, timeout=timeout_seconds) as response:  # noqa: S310 (local URL)
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    """Sum of the samples called `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(
        v for (sample, sample_labels), v in samples.items() if sample == name and wanted <= set(sample_labels)
    )


def histogram_mean(samples: dict, name: str, **labels: str) -> float | None:
    count = value(samples, f"{name}_count", **labels)
    return value(samples, f"{name}_sum", **labels) / count if count else None
