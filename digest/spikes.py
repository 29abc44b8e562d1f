"""Spikes: a day whose negative volume stands far above its own trailing baseline.

One noisy day must not page anyone, so a day is a spike only when all of these hold:

- its count is at least ``min_count`` (3 complaints over a baseline of 0.2 a day is noise, not news);
- its z-score against the ``window_days`` before it is at least ``z``, where the spread is floored at
  ``sqrt(mean)`` (Poisson) and at 1 so that a flat, quiet baseline does not turn every blip into z = ∞;
- the baseline has at least ``min_baseline_days`` days of data (a new store has nothing to compare with);
- no spike for the same key was raised in the ``cooldown_days`` before (a storm is one alert, not five).

>>> days = [date(2026, 11, d) for d in range(1, 11)]
>>> counts = {"pembayaran_dana": {d: 1 for d in days[:9]} | {days[9]: 9}}
>>> [(s.key, s.day.day, s.count) for s in detect_spikes(counts, days)]
[('pembayaran_dana', 10, 9)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

OVERALL = "*"  # the key of overall negative volume (used when no topic predictions exist)


@dataclass(frozen=True)
class SpikeRules:
    z: float = 3.0
    min_count: int = 5
    window_days: int = 28
    min_baseline_days: int = 7
    cooldown_days: int = 3


@dataclass(frozen=True)
class SpikeHit:
    key: str
    day: date
    count: int
    mean: float  # baseline mean per day
    sd: float  # the spread used (floored)
    baseline_days: int

    @property
    def z(self) -> float:
        return (self.count - self.mean) / self.sd


DEFAULT_RULES = SpikeRules()


def detect_spikes(
    daily: Mapping[str, Mapping[date, int]], days: Sequence[date], rules: SpikeRules = DEFAULT_RULES
) -> list[SpikeHit]:
    """Spikes per key over ``days`` (consecutive, oldest first, all of them days with data coverage).

    ``daily[key][day]`` is the negative count of that key on that day (absent = 0). The earliest days serve as
    baseline only; every later day is tested against the ``window_days`` before it. Returns hits oldest first.
    """
    hits: list[SpikeHit] = []
    for key in sorted(daily):
        counts = [int(daily[key].get(d, 0)) for d in days]
        last_hit: date | None = None
        for i, day in enumerate(days):
            base = counts[max(0, i - rules.window_days) : i]
            if len(base) < rules.min_baseline_days or counts[i] < rules.min_count:
                continue
            mean = sum(base) / len(base)
            sd = math.sqrt(sum((c - mean) ** 2 for c in base) / len(base))
            spread = max(sd, math.sqrt(mean), 1.0)
            hit = SpikeHit(key, day, counts[i], mean, spread, len(base))
            if hit.z < rules.z:
                continue
            if last_hit is not None and (day - last_hit).days <= rules.cooldown_days:
                continue
            last_hit = day
            hits.append(hit)
    return sorted(hits, key=lambda h: (h.day, h.key))
