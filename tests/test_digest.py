"""Digest build (pure) and render: numbers with their comparisons, examples, empty and tiny periods."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from digest.build import Count, Period, build_digest, pick_examples
from digest.render import render_html, render_markdown

NOW = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)


def row(
    i: int,
    sentiment: str | None,
    *,
    author: str | None = None,
    text: str | None = None,
    source: str = "x",
    kind: str = "post",
    day: int = 10,
    conf: float = 0.8,
) -> dict:
    return {
        "id": i,
        "source": source,
        "kind": kind,
        "author_key": author or f"a_{i}",
        "text": text or f"keluhan nomor {i}",
        "created_at": datetime(2026, 11, day, 3, 0, tzinfo=UTC),
        "url": None,
        "sentiment": sentiment,
        "sentiment_confidence": conf,
        "sentiment_model": "sentiment-tfidf-x" if sentiment else None,
    }


def test_period_arithmetic():
    week = Period.ending("week", date(2026, 11, 15))
    assert (week.start, week.end) == (date(2026, 11, 9), date(2026, 11, 15))
    assert week.previous() == Period("week", date(2026, 11, 2), date(2026, 11, 8))
    start, end = week.bounds("Asia/Jakarta")
    assert start.utcoffset() == timedelta(hours=7) and (end - start) == timedelta(days=7)
    assert Period.ending("day", date(2026, 11, 15)).previous().end == date(2026, 11, 14)
    with pytest.raises(ValueError, match="unknown period"):
        Period.ending("month", date(2026, 11, 15))


def test_counts_shares_and_changes():
    current = [row(i, "negative") for i in range(6)] + [row(10 + i, "positive") for i in range(2)]
    current += [row(20, "neutral", source="zendesk", kind="ticket"), row(21, None)]
    previous = [row(100 + i, "negative", day=3) for i in range(3)] + [
        row(110 + i, "neutral", day=3) for i in range(3)
    ]
    data = build_digest(current, previous, period=Period.ending("week", date(2026, 11, 15)), generated_at=NOW)
    assert data.total == Count(10, 6)
    assert round(data.total.change_pct) == 67
    assert data.by_source["x"] == Count(9, 6) and data.by_source["zendesk"] == Count(1, 0)
    assert data.by_kind["ticket"].change_pct is None  # no base: shown as new, not as +inf%
    assert data.sentiment["negative"].count == 6 and data.sentiment["negative"].share == pytest.approx(6 / 9)
    assert data.sentiment["negative"].change_pp == pytest.approx(100 * (6 / 9 - 0.5))
    assert data.unclassified == 1
    assert data.model_versions == ["sentiment-tfidf-x"]


def test_examples_one_per_author_no_copy_paste_most_confident_first():
    rows = [
        row(1, "negative", author="a_same", text="OTP gak masuk2", conf=0.99),
        row(2, "negative", author="a_same", text="masih gak masuk", conf=0.98),
        row(3, "negative", author="a_b", text="Tolong usut salah sasaran!", conf=0.97),
        row(4, "negative", author="a_c", text="tolong usut  salah sasaran", conf=0.96),
        row(5, "negative", author="a_d", text="aplikasi error terus", conf=0.5),
        row(6, "positive", author="a_e", text="makasih min udah cair", conf=0.9),
    ]
    texts = [e.text for e in pick_examples(rows, "negative")]
    assert texts == ["OTP gak masuk2", "Tolong usut salah sasaran!", "aplikasi error terus"]


def test_empty_period_and_single_item():
    period = Period.ending("day", date(2026, 11, 15))
    empty = build_digest([], [row(1, "negative")], period=period, generated_at=NOW)
    md = render_markdown(empty)
    assert empty.is_empty and "Tidak ada masukan pada periode ini (periode sebelumnya: 1)" in md
    assert "No feedback in this period (previous period: 1)" in render_markdown(empty, lang="en")
    one = build_digest([row(1, "negative")], [], period=period, generated_at=NOW)
    md = render_markdown(one)
    assert "belum ada periode pembanding" in md
    assert "Total masukan: 1 (sebelumnya 0, baru)" in md
    assert "1. keluhan nomor 1" in md


def test_markdown_shows_every_number_with_its_comparison():
    current = [row(i, "negative") for i in range(168)] + [row(1000 + i, "positive") for i in range(32)]
    previous = [row(2000 + i, "negative", day=3) for i in range(118)] + [
        row(3000 + i, "positive", day=3) for i in range(82)
    ]
    data = build_digest(current, previous, period=Period.ending("week", date(2026, 11, 15)), generated_at=NOW)
    md = render_markdown(data)
    assert "Keluhan (negatif) naik dari 59% ke 84% (+25 poin)." in md
    assert "Total masukan: 200 (sebelumnya 200, +0%)" in md
    assert "negatif: 84% (168; sebelumnya 59%, +25 poin)" in md
    en = render_markdown(data, lang="en")
    assert "Complaints (negative) rose from 59% to 84% (+25 points)." in en
    with pytest.raises(ValueError, match="unknown language"):
        render_markdown(data, lang="jv")


def test_html_is_escaped_and_self_contained():
    rows = [row(1, "negative", text="<script>alert('x')</script> aplikasi error")]
    html = render_html(
        build_digest(rows, [], period=Period.ending("week", date(2026, 11, 15)), generated_at=NOW)
    )
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert html.startswith("<!doctype html>") and "<style>" in html and "http" not in html.split("<body>")[0]
