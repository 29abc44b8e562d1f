"""Pure digest building: rows in, ``DigestData`` out. No database, no network, no clock.

>>> period = Period.ending("week", date(2026, 11, 15))
>>> data = build_digest(current_rows, previous_rows, period=period, generated_at=now)
>>> data.sentiment["negative"].count
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

SENTIMENTS = ("negative", "neutral", "positive")
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Period:
    """A half-open range of whole local days: ``start`` (first day) to ``end`` (last day), both included."""

    kind: str  # "day" | "week"
    start: date
    end: date

    @classmethod
    def ending(cls, kind: str, last_day: date) -> Period:
        """The period of ``kind`` that ends on ``last_day`` (a week is the 7 days up to and including it)."""
        if kind == "day":
            return cls("day", last_day, last_day)
        if kind == "week":
            return cls("week", last_day - timedelta(days=6), last_day)
        raise ValueError(f"unknown period {kind!r}; use 'day' or 'week'")

    def previous(self) -> Period:
        span = (self.end - self.start).days + 1
        return Period(self.kind, self.start - timedelta(days=span), self.start - timedelta(days=1))

    def bounds(self, tz: str) -> tuple[datetime, datetime]:
        """Aware datetimes [start, end) covering the local days in ``tz``."""
        zone = ZoneInfo(tz)
        return (
            datetime.combine(self.start, time.min, zone),
            datetime.combine(self.end + timedelta(days=1), time.min, zone),
        )


@dataclass(frozen=True)
class Count:
    count: int
    previous: int

    @property
    def change_pct(self) -> float | None:
        """Relative change in percent; None when the previous count was zero (no base to compare with)."""
        return None if self.previous == 0 else 100.0 * (self.count - self.previous) / self.previous


@dataclass(frozen=True)
class Share:
    count: int
    share: float  # 0..1 of classified items
    previous_share: float | None

    @property
    def change_pp(self) -> float | None:
        """Change in percentage points; None when the previous period had nothing classified."""
        return None if self.previous_share is None else 100.0 * (self.share - self.previous_share)


@dataclass(frozen=True)
class Example:
    text: str
    source: str
    kind: str
    created_at: datetime
    url: str | None
    confidence: float | None


@dataclass(frozen=True)
class DigestData:
    period: Period
    previous_period: Period
    generated_at: datetime
    total: Count
    by_source: dict[str, Count]
    by_kind: dict[str, Count]
    authors: Count  # unique people (author keys)
    sentiment: dict[str, Share]
    unclassified: int
    negative_examples: list[Example]
    positive_examples: list[Example]
    model_versions: list[str]
    freshness: dict[str, datetime] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return self.total.count == 0


def _counter(rows: Iterable[Mapping[str, Any]], key: str) -> Counter:
    return Counter(r[key] for r in rows if r.get(key))


def _counts(current: Counter, previous: Counter) -> dict[str, Count]:
    keys = sorted(set(current) | set(previous), key=lambda k: (-current[k], k))
    return {k: Count(current[k], previous[k]) for k in keys}


def _sentiment_shares(
    rows: Sequence[Mapping[str, Any]], previous: Sequence[Mapping[str, Any]]
) -> dict[str, Share]:
    cur, prev = _counter(rows, "sentiment"), _counter(previous, "sentiment")
    cur_n, prev_n = sum(cur.values()), sum(prev.values())
    return {
        s: Share(cur[s], cur[s] / cur_n if cur_n else 0.0, (prev[s] / prev_n) if prev_n else None)
        for s in SENTIMENTS
    }


_WS = re.compile(r"\W+")


def pick_examples(
    rows: Sequence[Mapping[str, Any]], sentiment: str, limit: int = MAX_EXAMPLES
) -> list[Example]:
    """The most confident items of a sentiment, one per author, no repeated (copy-paste) texts."""
    candidates = sorted(
        (r for r in rows if r.get("sentiment") == sentiment),
        key=lambda r: (-(r.get("sentiment_confidence") or 0.0), r["created_at"]),
    )
    seen_authors: set[str] = set()
    seen_texts: set[str] = set()
    out: list[Example] = []
    for r in candidates:
        fingerprint = _WS.sub(" ", r["text"].lower()).strip()
        author = r.get("author_key")
        if fingerprint in seen_texts or (author and author in seen_authors):
            continue
        seen_texts.add(fingerprint)
        if author:
            seen_authors.add(author)
        out.append(
            Example(
                r["text"],
                r["source"],
                r["kind"],
                r["created_at"],
                r.get("url"),
                r.get("sentiment_confidence"),
            )
        )
        if len(out) == limit:
            break
    return out


def build_digest(
    rows: Sequence[Mapping[str, Any]],
    previous_rows: Sequence[Mapping[str, Any]],
    *,
    period: Period,
    generated_at: datetime,
    freshness: Mapping[str, datetime] | None = None,
) -> DigestData:
    """Everything the digest says, computed from the period's rows and the previous period's rows."""
    versions = sorted({r["sentiment_model"] for r in rows if r.get("sentiment_model")})
    return DigestData(
        period=period,
        previous_period=period.previous(),
        generated_at=generated_at,
        total=Count(len(rows), len(previous_rows)),
        by_source=_counts(_counter(rows, "source"), _counter(previous_rows, "source")),
        by_kind=_counts(_counter(rows, "kind"), _counter(previous_rows, "kind")),
        authors=Count(
            len({r["author_key"] for r in rows if r.get("author_key")}),
            len({r["author_key"] for r in previous_rows if r.get("author_key")}),
        ),
        sentiment=_sentiment_shares(rows, previous_rows),
        unclassified=sum(1 for r in rows if not r.get("sentiment")),
        negative_examples=pick_examples(rows, "negative"),
        positive_examples=pick_examples(rows, "positive", limit=3),
        model_versions=versions,
        freshness=dict(freshness or {}),
    )
