"""Pure digest building: rows in, ``DigestData`` out. No database, no network, no clock.

>>> period = Period.ending("week", date(2026, 11, 15))
>>> data = build_digest(rows, previous_rows, period=period, generated_at=now, history=earlier_rows)
>>> data.complaints_by_change[0].id, data.complaints_by_change[0].negative   # the bundled sample, gold labels
('pembayaran_dana', Count(count=29, previous=22, baseline=14.5))

Rows are what ``storage.queries.items_with_current_predictions`` returns: ``source``, ``kind``, ``author_key``,
``text`` (PII-masked), ``created_at`` (aware), ``meta``, ``sentiment``/``sentiment_confidence``/
``sentiment_model`` and ``topics`` (topic ids joined with ";", ``""`` for none, ``None`` when not predicted).
A row may carry ``campaign_id``: the posts of one copy-paste campaign then count once in every trend (sentiment
shares, topics, spikes, the chart), while volume still counts every post.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

from digest.examples import MAX_EXAMPLES as MAX_EXAMPLES  # re-exported: callers import it from here
from digest.examples import Example, masked, pick_examples, pick_representative
from digest.spikes import DEFAULT_RULES, OVERALL, SpikeRules, detect_spikes
from digest.topics import TopicNames, topic_name
from models.aspects import topic_sentiment

SENTIMENTS = ("negative", "neutral", "positive")
DEFAULT_TZ = "Asia/Jakarta"
BASELINE_PERIODS = 4  # the trailing baseline: the mean of this many earlier periods
TOPIC_EXAMPLES = 3
MIN_RISE = 3  # a topic counts as rising only with at least this many complaints now
RESOLVED = frozenset({"solved", "closed", "resolved"})


@dataclass(frozen=True)
class Period:
    """A range of whole local days: ``start`` (first day) to ``end`` (last day), both included."""

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

    @property
    def span(self) -> int:
        return (self.end - self.start).days + 1

    def shifted(self, periods: int) -> Period:
        """The period ``periods`` spans earlier (1 = the previous one)."""
        delta = timedelta(days=self.span * periods)
        return Period(self.kind, self.start - delta, self.end - delta)

    def previous(self) -> Period:
        return self.shifted(1)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.span)]

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def bounds(self, tz: str) -> tuple[datetime, datetime]:
        """Aware datetimes [start, end) covering the local days in ``tz``."""
        zone = ZoneInfo(tz)
        return (
            datetime.combine(self.start, time.min, zone),
            datetime.combine(self.end + timedelta(days=1), time.min, zone),
        )


def history_start(period: Period, rules: SpikeRules = DEFAULT_RULES) -> date:
    """The first day of history the build wants: the trailing baseline's periods and the spike window."""
    return period.start - timedelta(days=max(BASELINE_PERIODS * period.span, rules.window_days))


@dataclass(frozen=True)
class Count:
    count: int
    previous: int
    baseline: float | None = None  # mean over the trailing baseline periods; None when too little history

    @property
    def change_pct(self) -> float | None:
        """Relative change in percent; None when the previous count was zero (no base to compare with)."""
        return None if self.previous == 0 else 100.0 * (self.count - self.previous) / self.previous

    @property
    def change_vs_baseline_pct(self) -> float | None:
        return None if not self.baseline else 100.0 * (self.count - self.baseline) / self.baseline


@dataclass(frozen=True)
class Share:
    count: int
    share: float  # 0..1 of classified items
    previous_share: float | None
    baseline_share: float | None = None

    @property
    def change_pp(self) -> float | None:
        """Change in percentage points; None when the previous period had nothing classified."""
        return None if self.previous_share is None else 100.0 * (self.share - self.previous_share)

    @property
    def change_vs_baseline_pp(self) -> float | None:
        return None if self.baseline_share is None else 100.0 * (self.share - self.baseline_share)


@dataclass(frozen=True)
class Median:
    """A median duration in hours over ``n`` tickets, with the previous period's."""

    hours: float | None
    previous_hours: float | None
    n: int
    previous_n: int


@dataclass(frozen=True)
class TicketStats:
    """Tickets opened in the period, and where they stand now (status as last collected)."""

    opened: Count
    open_now: int
    resolved_now: int
    previous_open_now: int
    previous_resolved_now: int
    first_response: Median
    resolution: Median


@dataclass(frozen=True)
class TopicStat:
    id: str
    mentions: Count  # items with this topic (a campaign counts once)
    negative: Count
    positive: Count
    authors: int  # unique people among this period's mentions
    negative_authors: int
    complaints: list[Example] = field(default_factory=list)
    praise: list[Example] = field(default_factory=list)

    @property
    def negative_share(self) -> float:
        return self.negative.count / self.mentions.count if self.mentions.count else 0.0

    @property
    def rise(self) -> int:
        return self.negative.count - self.negative.previous


@dataclass(frozen=True)
class Cluster:
    """A group of similar posts found by discovery (no topic of the taxonomy needed)."""

    id: str
    keywords: list[str]
    examples: list[str]
    size: int
    previous_size: int | None
    first_seen: date | None
    is_new: bool


@dataclass(frozen=True)
class Spike:
    key: str  # a topic id, or ``spikes.OVERALL`` for all negative feedback
    day: date
    count: int
    mean: float  # the baseline's mean per day
    z: float


@dataclass(frozen=True)
class DayCounts:
    day: date
    negative: int = 0
    neutral: int = 0
    positive: int = 0
    unclassified: int = 0

    @property
    def total(self) -> int:
        return self.negative + self.neutral + self.positive + self.unclassified


@dataclass(frozen=True)
class ReviewCheck:
    """How the active models' predictions compare with the items people reviewed (``suara review``), all time:
    sentiment labels equal; topics: the reviewer's main topic among the predicted ones."""

    sentiment_n: int = 0
    sentiment_agree: int = 0
    topics_n: int = 0
    topics_agree: int = 0


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
    tz: str = DEFAULT_TZ
    baseline_periods: int = 0  # how many earlier periods the trailing baseline averages (0: none)
    topics: list[TopicStat] = field(default_factory=list)
    topic_coverage: int = 0  # items of the period with a topic prediction
    topic_model_versions: list[str] = field(default_factory=list)
    topic_names: TopicNames = field(default_factory=dict)
    clusters: list[Cluster] = field(default_factory=list)
    spikes: list[Spike] = field(default_factory=list)
    tickets: TicketStats | None = None
    daily: list[DayCounts] = field(default_factory=list)
    campaign_items: int = 0  # items of the period that belong to a campaign
    campaigns: int = 0
    review: ReviewCheck | None = None  # None: nobody has reviewed items in this store

    @property
    def is_empty(self) -> bool:
        return self.total.count == 0

    @property
    def has_topics(self) -> bool:
        return self.topic_coverage > 0

    def topic_name(self, topic_id: str, lang: str) -> str:
        return topic_name(topic_id, self.topic_names, lang)

    @property
    def complaints_by_volume(self) -> list[TopicStat]:
        ranked = [t for t in self.topics if t.negative.count]
        return sorted(ranked, key=lambda t: (-t.negative.count, -t.rise, t.id))

    @property
    def complaints_by_change(self) -> list[TopicStat]:
        """Topics whose complaints grew, biggest growth first (new topics included, tiny ones not)."""
        rising = [t for t in self.topics if t.negative.count >= MIN_RISE and t.rise > 0]
        return sorted(rising, key=lambda t: (-t.rise, -t.negative.count, t.id))

    @property
    def praised(self) -> list[TopicStat]:
        ranked = [t for t in self.topics if t.positive.count]
        return sorted(ranked, key=lambda t: (-t.positive.count, t.id))


# -- helpers ----------------------------------------------------------------------------------------------------
Row = Mapping[str, Any]


def _counter(rows: Iterable[Row], key: str) -> Counter:
    return Counter(r[key] for r in rows if r.get(key))


def _counts(current: Counter, previous: Counter) -> dict[str, Count]:
    keys = sorted(set(current) | set(previous), key=lambda k: (-current[k], k))
    return {k: Count(current[k], previous[k]) for k in keys}


def collapse_campaigns(rows: Sequence[Row]) -> list[Row]:
    """The rows with each campaign reduced to its first post: what trends count."""
    seen: set[Any] = set()
    out = []
    for r in rows:
        campaign = r.get("campaign_id")
        if campaign is not None:
            if campaign in seen:
                continue
            seen.add(campaign)
        out.append(r)
    return out


def row_topics(row: Row) -> tuple[str, ...] | None:
    """The row's topic ids; None when no topic model has looked at it."""
    value = row.get("topics")
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(t for t in (s.strip() for s in value.split(";")) if t)
    return tuple(str(t) for t in value)


def _shares(rows: Sequence[Row]) -> dict[str, float] | None:
    counts = _counter(rows, "sentiment")
    n = sum(counts[s] for s in SENTIMENTS)
    return {s: counts[s] / n for s in SENTIMENTS} if n else None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else None
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else None
    return None


def _ticket_numbers(rows: Sequence[Row]) -> tuple[int, int, list[float], list[float]]:
    """(open now, resolved now, first-response hours, resolution hours) of the tickets among ``rows``."""
    open_now = resolved = 0
    first: list[float] = []
    resolution: list[float] = []
    for r in rows:
        if r.get("kind") != "ticket":
            continue
        meta = r.get("meta") or {}
        if str(meta.get("status", "")).lower() in RESOLVED:
            resolved += 1
        else:
            open_now += 1
        for key, out in (("first_response_at", first), ("solved_at", resolution)):
            at = _time(meta.get(key))
            if at is not None and at >= r["created_at"]:
                out.append((at - r["created_at"]).total_seconds() / 3600)
    return open_now, resolved, first, resolution


def ticket_stats(rows: Sequence[Row], previous_rows: Sequence[Row]) -> TicketStats | None:
    cur, prev = _ticket_numbers(rows), _ticket_numbers(previous_rows)
    if not (cur[0] + cur[1] + prev[0] + prev[1]):
        return None

    def med(values: list[float]) -> float | None:
        return median(values) if values else None

    return TicketStats(
        opened=Count(cur[0] + cur[1], prev[0] + prev[1]),
        open_now=cur[0],
        resolved_now=cur[1],
        previous_open_now=prev[0],
        previous_resolved_now=prev[1],
        first_response=Median(med(cur[2]), med(prev[2]), len(cur[2]), len(prev[2])),
        resolution=Median(med(cur[3]), med(prev[3]), len(cur[3]), len(prev[3])),
    )


def _clusters(raw: Iterable[Mapping[str, Any]]) -> list[Cluster]:
    out = []
    for c in raw:
        first_seen = c.get("first_seen")
        if isinstance(first_seen, datetime):
            first_seen = first_seen.date()
        elif isinstance(first_seen, str):
            first_seen = date.fromisoformat(first_seen[:10])
        examples: list[str] = []
        for text in c.get("examples") or ():
            text = " ".join(masked(str(text)).split())
            if text and text not in examples:
                examples.append(text)
        out.append(
            Cluster(
                id=str(c["id"]),
                keywords=[str(k) for k in c.get("keywords") or ()],
                examples=examples[:TOPIC_EXAMPLES],
                size=int(c.get("size") or 0),
                previous_size=None if c.get("previous_size") is None else int(c["previous_size"]),
                first_seen=first_seen,
                is_new=bool(c.get("is_new")),
            )
        )
    return sorted(out, key=lambda c: (not c.is_new, -(c.size - (c.previous_size or 0)), -c.size, c.id))


# -- the build --------------------------------------------------------------------------------------------------
def build_digest(
    rows: Sequence[Row],
    previous_rows: Sequence[Row],
    *,
    period: Period,
    generated_at: datetime,
    freshness: Mapping[str, datetime] | None = None,
    history: Sequence[Row] | None = None,
    first_day: date | None = None,
    clusters: Iterable[Mapping[str, Any]] | None = None,
    topic_names: TopicNames | None = None,
    tz: str = DEFAULT_TZ,
    spike_rules: SpikeRules = DEFAULT_RULES,
    review: ReviewCheck | None = None,
) -> DigestData:
    """Everything the digest says, computed from the rows of the period and of the periods before.

    ``history`` holds the rows before the period back to ``history_start(period)`` (the previous period's
    included); without it only the previous period is known and there is no trailing baseline. ``first_day``
    is the local day of the store's first item: earlier days are not zero, they are unknown.
    """
    zone = ZoneInfo(tz)

    def day_of(r: Row) -> date:
        return r["created_at"].astimezone(zone).date()

    history = list(previous_rows if history is None else history)
    known_days = [day_of(r) for r in (*history, *rows)]
    if first_day is None and known_days:
        first_day = min(known_days)

    trend, trend_prev, trend_hist = (collapse_campaigns(x) for x in (rows, previous_rows, history))

    # The trailing baseline: earlier periods the store fully covers, when there are at least two of them.
    by_period: dict[int, list[Row]] = defaultdict(list)
    raw_by_period: Counter = Counter()
    earlier = [period.shifted(k) for k in range(1, BASELINE_PERIODS + 1)]
    covered = [k for k, p in enumerate(earlier, 1) if first_day is not None and p.start >= first_day]
    for r in history:
        for k in covered:
            if earlier[k - 1].contains(day_of(r)):
                raw_by_period[k] += 1
    for r in trend_hist:
        for k in covered:
            if earlier[k - 1].contains(day_of(r)):
                by_period[k].append(r)
    baseline_n = len(covered) if len(covered) >= 2 else 0
    base_keys = covered if baseline_n else []

    period_shares = [s for s in (_shares(by_period[k]) for k in base_keys) if s is not None]
    cur_shares, prev_shares = _shares(trend), _shares(trend_prev)
    cur_sent = _counter(trend, "sentiment")
    sentiment = {
        s: Share(
            cur_sent[s],
            cur_shares[s] if cur_shares else 0.0,
            prev_shares[s] if prev_shares else None,
            _mean([p[s] for p in period_shares]) if period_shares else None,
        )
        for s in SENTIMENTS
    }

    # Topics: who mentions what, how negative, against the previous period and the baseline.
    def by_topic(rs: Sequence[Row]) -> dict[str, list[Row]]:
        out: dict[str, list[Row]] = defaultdict(list)
        for r in rs:
            for t in row_topics(r) or ():
                out[t].append(r)
        return out

    cur_topics, prev_topics = by_topic(trend), by_topic(trend_prev)
    base_topic_neg = {k: Counter() for k in base_keys}
    for k in base_keys:
        for t, rs in by_topic(by_period[k]).items():
            base_topic_neg[k][t] = sum(1 for r in rs if topic_sentiment(r, t) == "negative")

    # A topic's complaints and praise follow the item's sentiment towards that topic (its aspect sentiment).
    def neg(rs: Sequence[Row], t: str) -> list[Row]:
        return [r for r in rs if topic_sentiment(r, t) == "negative"]

    def pos(rs: Sequence[Row], t: str) -> list[Row]:
        return [r for r in rs if topic_sentiment(r, t) == "positive"]

    def rank(t: str) -> tuple:
        return (-len(neg(cur_topics.get(t, []), t)), -len(cur_topics.get(t, [])), t)

    topics = []
    quoted: set[tuple[Any, str]] = (
        set()
    )  # a post quoted under a bigger topic is not quoted again if avoidable
    for t in sorted(set(cur_topics) | set(prev_topics), key=rank):
        cur, prev = cur_topics.get(t, []), prev_topics.get(t, [])
        examples = {}
        for kind, group, limit in (("neg", neg(cur, t), TOPIC_EXAMPLES), ("pos", pos(cur, t), 2)):
            fresh = [r for r in group if (r["created_at"], r["text"]) not in quoted]
            picked = pick_representative(fresh, limit)
            if len(picked) < limit:  # a small topic may repeat a post rather than show none
                seen = {(e.created_at, e.text) for e in picked}
                picked += [e for e in pick_representative(group, limit) if (e.created_at, e.text) not in seen]
                picked = picked[:limit]
            quoted.update((e.created_at, e.text) for e in picked)
            examples[kind] = picked
        topics.append(
            TopicStat(
                id=t,
                mentions=Count(len(cur), len(prev)),
                negative=Count(
                    len(neg(cur, t)),
                    len(neg(prev, t)),
                    _mean([base_topic_neg[k][t] for k in base_keys]) if base_keys else None,
                ),
                positive=Count(len(pos(cur, t)), len(pos(prev, t))),
                authors=len({r["author_key"] for r in cur if r.get("author_key")}),
                negative_authors=len({r["author_key"] for r in neg(cur, t) if r.get("author_key")}),
                complaints=examples["neg"],
                praise=examples["pos"],
            )
        )
    topic_coverage = sum(1 for r in rows if row_topics(r) is not None)

    # Daily negative volume per topic (overall when nothing has topics), for spikes and the chart.
    start = period.start
    if first_day is not None:  # the chart and the spike baselines reach back as far as the store knows
        start = min(period.start, max(first_day, history_start(period, spike_rules)))
    days = [start + timedelta(days=i) for i in range((period.end - start).days + 1)]
    daily_sent: dict[date, Counter] = defaultdict(Counter)
    daily_neg: dict[str, Counter] = defaultdict(Counter)
    any_topics = any(row_topics(r) is not None for r in (*trend, *trend_hist))
    for r in (*trend_hist, *trend):
        d = day_of(r)
        if d < start or d > period.end:
            continue
        daily_sent[d][r.get("sentiment") or "unclassified"] += 1
        if not any_topics:
            if r.get("sentiment") == "negative":
                daily_neg[OVERALL][d] += 1
            continue
        for t in row_topics(r) or ():
            if topic_sentiment(r, t) == "negative":
                daily_neg[t][d] += 1
    spikes = [
        Spike(h.key, h.day, h.count, h.mean, h.z)
        for h in detect_spikes(daily_neg, days, spike_rules)
        if period.contains(h.day)
    ]
    spikes.sort(key=lambda s: (-s.z, s.day, s.key))

    campaign_ids = [r["campaign_id"] for r in rows if r.get("campaign_id") is not None]
    return DigestData(
        period=period,
        previous_period=period.previous(),
        generated_at=generated_at,
        total=Count(
            len(rows),
            len(previous_rows),
            _mean([raw_by_period[k] for k in base_keys]) if base_keys else None,
        ),
        by_source=_counts(_counter(rows, "source"), _counter(previous_rows, "source")),
        by_kind=_counts(_counter(rows, "kind"), _counter(previous_rows, "kind")),
        authors=Count(
            len({r["author_key"] for r in rows if r.get("author_key")}),
            len({r["author_key"] for r in previous_rows if r.get("author_key")}),
        ),
        sentiment=sentiment,
        unclassified=sum(1 for r in rows if not r.get("sentiment")),
        negative_examples=pick_examples(trend, "negative"),
        positive_examples=pick_examples(trend, "positive", limit=3),
        model_versions=sorted({r["sentiment_model"] for r in rows if r.get("sentiment_model")}),
        freshness=dict(freshness or {}),
        tz=tz,
        baseline_periods=baseline_n,
        topics=topics,
        topic_coverage=topic_coverage,
        topic_model_versions=sorted({r["topics_model"] for r in rows if r.get("topics_model")}),
        topic_names=dict(topic_names or {}),
        clusters=_clusters(clusters or ()),
        spikes=spikes,
        tickets=ticket_stats(rows, previous_rows),
        daily=[DayCounts(d, **{k: daily_sent[d][k] for k in (*SENTIMENTS, "unclassified")}) for d in days],
        campaign_items=len(campaign_ids),
        campaigns=len(set(campaign_ids)),
        review=review if review and (review.sentiment_n or review.topics_n) else None,
    )
