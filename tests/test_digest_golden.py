"""Golden tests on the bundled sample: the pipeline's own functions (collect → classify → digest), numbers checked
against the file by an independent count, and the rendered Markdown compared with committed golden files.

The sample carries gold labels (sentiment and topics). They are stored as one more model version and made active,
the way a retrained model would be, so every number below follows from the file alone and can be checked by
hand; the real classifier runs first all the same. Regenerate the golden Markdown after an intended change with
``SUARA_UPDATE_GOLDEN=1 pytest tests/test_digest_golden.py`` and read the diff.
"""

from __future__ import annotations

import json
import os
import statistics
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from digest.build import Count, Period
from digest.render import render_markdown
from storage import db
from storage.schema import items
from suara import jobs

GOLDEN = Path(__file__).parent / "fixtures" / "digest"
NOW = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)
WEEK = Period.ending("week", date(2026, 11, 15))
TZ = "Asia/Jakarta"
GOLD = "gold-sample"


def sample_rows() -> list[dict]:
    rows = [json.loads(line) for line in jobs.SAMPLE_FILE.read_text(encoding="utf-8").splitlines()]
    for r in rows:
        r["at"] = datetime.fromisoformat(r["created_at"])  # written with +07:00: the local day is the date
    return rows


def in_week(rows: list[dict], last: date) -> list[dict]:
    return [r for r in rows if last - timedelta(days=6) <= r["at"].date() <= last]


def by_hand(last: date = date(2026, 11, 15)) -> dict:
    """The week's numbers counted straight from the JSONL, without any Suara code."""
    rows = sample_rows()
    cur, prev = in_week(rows, last), in_week(rows, last - timedelta(days=7))
    base = [in_week(rows, last - timedelta(days=7 * k)) for k in range(1, 5)]

    def neg_share(week):
        return sum(r["gold"]["sentiment"] == "negative" for r in week) / len(week)

    def neg_topic(week, topic):
        return sum(1 for r in week if r["gold"]["sentiment"] == "negative" and topic in r["gold"]["topics"])

    def hours(week, key):
        return [
            (datetime.fromisoformat(r[key]) - r["at"]).total_seconds() / 3600
            for r in week
            if r["kind"] == "ticket" and r.get(key)
        ]

    def count(week, key):
        return Counter(r[key] for r in week)

    def tickets(week):
        status = Counter(r["status"] for r in week if r["kind"] == "ticket")
        return status["solved"], sum(status.values()) - status["solved"]

    daily = Counter(
        r["at"].date()
        for r in rows
        if r["gold"]["sentiment"] == "negative" and "pembayaran_dana" in r["gold"]["topics"]
    )
    return {
        "total": (len(cur), len(prev), statistics.mean(len(w) for w in base)),
        "source": {s: (count(cur, "channel")[s], count(prev, "channel")[s]) for s in ("x", "zendesk")},
        "kind": {k: (count(cur, "kind")[k], count(prev, "kind")[k]) for k in ("post", "reply", "ticket")},
        "people": tuple(len({(r["channel"], r["author"].lstrip("@").lower()) for r in w}) for w in (cur, prev)),
        "sentiment": Counter(r["gold"]["sentiment"] for r in cur),
        "negative_share": (neg_share(cur), neg_share(prev), statistics.mean(neg_share(w) for w in base)),
        "pembayaran_dana": (neg_topic(cur, "pembayaran_dana"), neg_topic(prev, "pembayaran_dana"),
                            statistics.mean(neg_topic(w, "pembayaran_dana") for w in base)),
        "aplikasi_sistem": (neg_topic(cur, "aplikasi_sistem"), neg_topic(prev, "aplikasi_sistem"),
                            statistics.mean(neg_topic(w, "aplikasi_sistem") for w in base)),
        "tickets": (tickets(cur), tickets(prev)),
        "first_response": (statistics.median(hours(cur, "first_response_at")), len(hours(cur, "first_response_at")),
                           statistics.median(hours(prev, "first_response_at"))),
        "resolution": (statistics.median(hours(cur, "solved_at")), len(hours(cur, "solved_at")),
                       statistics.median(hours(prev, "solved_at"))),
        "daily_payment_complaints": {d: daily[d] for d in (date(2026, 11, 13), date(2026, 11, 12))},
        "payment_baseline_before_11_13": statistics.mean(
            daily[date(2026, 11, 13) - timedelta(days=k)] for k in range(1, 29)
        ),
    }  # fmt: skip


# What the hand count says (checked once more against by_hand() below): the week of 2026-11-09..15 against
# 11-02..08 and the four weeks 10-12..11-08. Unique people are (channel, handle) pairs.
EXPECTED = {
    "total": (81, 81, 71.5),
    "source": {"x": (56, 62), "zendesk": (25, 19)},
    "kind": {"post": (53, 50), "reply": (14, 19), "ticket": (14, 12)},
    "people": (71, 73),
    "sentiment": Counter({"negative": 53, "positive": 15, "neutral": 13}),
    "pembayaran_dana": (29, 22, 14.5),  # negative mentions; baseline weeks 22, 12, 11, 13
    "aplikasi_sistem": (21, 15, 9.25),  # baseline weeks 15, 10, 7, 5
    "tickets": ((5, 9), (4, 8)),  # (solved, not solved) this week and the week before
    "daily_payment_complaints": {date(2026, 11, 13): 8, date(2026, 11, 12): 5},
}


def test_the_expected_numbers_are_what_the_file_says():
    hand = by_hand()
    for key, value in EXPECTED.items():
        assert hand[key] == value, key
    assert hand["negative_share"] == pytest.approx(
        (53 / 81, 59 / 81, (59 / 81 + 29 / 72 + 31 / 67 + 33 / 66) / 4)
    )
    assert hand["first_response"] == pytest.approx((21.331, 10, 13.391), abs=1e-3)
    assert hand["resolution"] == pytest.approx((46.503, 5, 27.393), abs=1e-3)
    assert hand["payment_baseline_before_11_13"] == pytest.approx(64 / 28)


def load_sample(engine, settings=None) -> str:
    """collect → classify (the real default model) → the gold labels as the active version of both tasks."""
    assert jobs.collect_file(engine, jobs.SAMPLE_FILE, settings=settings).new == 432
    model_version = jobs.classify_pending(engine, settings=settings).model_version
    gold = {(r["channel"], r["id"]): r["gold"] for r in sample_rows()}
    with engine.begin() as conn:
        stored = conn.execute(select(items.c.id, items.c.source, items.c.source_id)).all()
        preds = []
        for item_id, source, source_id in stored:
            g = gold[(source, source_id)]
            preds.append(
                {
                    "item_id": item_id,
                    "task": "sentiment",
                    "model_version": GOLD,
                    "label": g["sentiment"],
                    "scores": {g["sentiment"]: 1.0},
                    "confidence": 1.0,
                }
            )
            preds.append({"item_id": item_id, "task": "topics", "model_version": GOLD,
                          "label": ";".join(g["topics"]), "scores": {}, "confidence": 1.0})  # fmt: skip
        db.save_predictions(conn, preds)
        db.set_active_model(conn, "sentiment", GOLD)
        db.set_active_model(conn, "topics", GOLD)
    return model_version


@pytest.fixture(scope="module")
def sample_engine(tmp_path_factory):
    """One SQLite store with the sample for the tests that only read it (the loading takes seconds)."""
    from storage.db import get_engine
    from suara.config import Settings

    path = tmp_path_factory.mktemp("golden") / "sample.db"
    engine = get_engine(f"sqlite:///{path}")
    load_sample(engine, Settings(_env_file=None, official_handles="", model_dir=path.parent / "models"))
    return engine


def test_week_numbers_on_the_sample(engine):
    """On both backends: SQLite and PostgreSQL give the same digest."""
    load_sample(engine)
    data = jobs.build_for(engine, WEEK, TZ, now=NOW)
    assert data.total == Count(81, 81, 71.5) and data.baseline_periods == 4
    assert {k: (v.count, v.previous) for k, v in data.by_source.items()} == EXPECTED["source"]
    assert {k: (v.count, v.previous) for k, v in data.by_kind.items()} == EXPECTED["kind"]
    assert (data.authors.count, data.authors.previous) == EXPECTED["people"]
    assert {s: v.count for s, v in data.sentiment.items()} == dict(EXPECTED["sentiment"])
    neg = data.sentiment["negative"]
    assert (neg.share, neg.previous_share, neg.baseline_share) == pytest.approx(by_hand()["negative_share"])
    topics = {t.id: t for t in data.topics}
    assert topics["pembayaran_dana"].negative == Count(*EXPECTED["pembayaran_dana"])
    assert topics["aplikasi_sistem"].negative == Count(*EXPECTED["aplikasi_sistem"])
    assert [t.id for t in data.complaints_by_volume[:3]] == [
        "pembayaran_dana",
        "aplikasi_sistem",
        "layanan_pelanggan",
    ]
    assert [(t.id, t.rise) for t in data.complaints_by_change[:3]] == [
        ("pembayaran_dana", 7), ("aplikasi_sistem", 6), ("layanan_pelanggan", 5)
    ]  # fmt: skip
    assert data.praised[0].id == "manfaat_kualitas" and data.praised[0].positive == Count(8, 1)
    # the rising complaint of weeks 5-6: 8 on Friday 11-13 against 64 in the 28 days before (2.3 a day)
    (spike,) = data.spikes
    assert (spike.key, spike.day, spike.count) == ("pembayaran_dana", date(2026, 11, 13), 8)
    assert spike.mean == pytest.approx(64 / 28)
    t = data.tickets
    assert (t.opened.count, t.opened.previous, t.resolved_now, t.open_now) == (14, 12, 5, 9)
    assert (t.previous_resolved_now, t.previous_open_now) == (4, 8)
    assert (t.first_response.hours, t.first_response.n) == pytest.approx((21.331, 10), abs=1e-3)
    assert (t.resolution.hours, t.resolution.previous_hours) == pytest.approx((46.503, 27.393), abs=1e-3)
    assert {s: at.isoformat() for s, at in data.freshness.items()} == {
        "x": "2026-11-15T13:26:05+00:00",
        "zendesk": "2026-11-15T07:13:14+00:00",
    }
    assert data.model_versions == [GOLD] and data.topic_model_versions == [GOLD]
    assert data.daily[0].day == date(2026, 10, 12) and len(data.daily) == 35
    assert sum(d.total for d in data.daily[-7:]) == 81
    assert render_markdown(data) == (GOLDEN / "sample-week-2026-11-15.id.md").read_text(encoding="utf-8")


def test_day_digest_on_the_sample(sample_engine):
    data = jobs.build_for(sample_engine, Period.ending("day", date(2026, 11, 13)), TZ, now=NOW)
    assert data.total.count == 17 and data.total.previous == 14
    assert data.sentiment["negative"].count == 12
    assert [(s.key, s.count) for s in data.spikes] == [("pembayaran_dana", 8)]


@pytest.mark.parametrize("lang", ["id", "en"])
def test_rendered_markdown_matches_the_golden_file(sample_engine, lang):
    md = render_markdown(jobs.build_for(sample_engine, WEEK, TZ, now=NOW), lang=lang)
    golden = GOLDEN / f"sample-week-2026-11-15.{lang}.md"
    if os.environ.get("SUARA_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(md, encoding="utf-8")
    assert md == golden.read_text(encoding="utf-8")


def test_golden_markdown_says_the_planted_story():
    md = (GOLDEN / "sample-week-2026-11-15.id.md").read_text(encoding="utf-8")
    assert (
        "**Keluhan (negatif) turun dari 73% ke 65% (-7 poin). Rata-rata 4 minggu sebelumnya: 52% (+13 poin).**"
        in md
    )
    assert "- Keluhan pembayaran & pencairan dana naik 32% (22 → 29)." in md
    assert "- Total masukan: 81 (sebelumnya 81, +0%) · rata-rata 4 minggu sebelumnya 71,5 (+13%)" in md
    assert (
        "Lonjakan keluhan pembayaran & pencairan dana pada 2026-11-13: 8 dalam sehari (biasanya 2,3/hari)."
        in md
    )
    assert "- Median respons pertama: 21 jam (sebelumnya 13 jam; dari 10 tiket)" in md
    assert "Data terbaru per sumber: x 2026-11-15 20:26; zendesk 2026-11-15 14:13" in md
    en = (GOLDEN / "sample-week-2026-11-15.en.md").read_text(encoding="utf-8")
    assert "Complaints about payment & disbursement rose 32% (22 → 29)." in en


def test_written_files_and_archive_index(sample_engine, tmp_path):
    week = jobs.write_digest(sample_engine, period="week", last_day=date(2026, 11, 15), out_dir=tmp_path)
    day = jobs.write_digest(
        sample_engine, period="day", last_day=date(2026, 11, 13), out_dir=tmp_path, lang="en"
    )
    older = jobs.write_digest(sample_engine, period="week", last_day=date(2026, 11, 8), out_dir=tmp_path)
    assert week.markdown.name == "digest-2026-11-15.md" and day.html.name == "digest-2026-11-13-day.html"
    assert set(week.charts) == {"sentiment", "topics"}
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    order = [index.index(f'href="{f.html.name}"') for f in (week, day, older)]
    assert order == sorted(order)  # newest first
    assert "Keluhan (negatif) turun dari 73% ke 65% (-7 poin)." in index
    assert not list(tmp_path.glob(".*.tmp"))
