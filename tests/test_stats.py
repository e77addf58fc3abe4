"""The latency bookkeeping of a crawl: bounded however many pages it fetches."""

from __future__ import annotations

import random

import pytest

from crawlkit.lab.measure import percentile
from crawlkit.stats import LATENCY_SAMPLE, LatencySample


def test_every_latency_is_kept_up_to_the_size() -> None:
    sample = LatencySample(size=100)
    for i in range(100):
        sample.add(i / 10)
    assert sorted(sample.values) == [i / 10 for i in range(100)]
    assert sample.count == 100


@pytest.mark.parametrize("order", ["rising", "shuffled"])
def test_the_sample_keeps_percentiles_close_on_known_data(order: str) -> None:
    # 200,000 latencies spread evenly over 0..2 s: the q-th percentile is q/50 s.
    # Rising order is the hard case: keeping the first (or the last) ones would
    # put every percentile at one end.
    data = [i / 100_000 for i in range(200_000)]
    if order == "shuffled":
        random.Random(7).shuffle(data)
    sample = LatencySample(size=5_000)
    for value in data:
        sample.add(value)
    assert len(sample) == len(sample.values) == 5_000
    assert sample.count == 200_000
    assert sample.mean == pytest.approx(sum(data) / len(data))
    for q in (5, 25, 50, 75, 95, 99):
        assert percentile(sample.values, q) == pytest.approx(q / 50, abs=0.05)


def test_the_default_size_bounds_a_long_crawl() -> None:
    sample = LatencySample()
    for i in range(3 * LATENCY_SAMPLE):
        sample.add(float(i))
    assert len(sample.values) == LATENCY_SAMPLE
    assert sample.count == 3 * LATENCY_SAMPLE


def test_a_sample_keeps_at_least_one_value() -> None:
    with pytest.raises(ValueError):
        LatencySample(size=0)
