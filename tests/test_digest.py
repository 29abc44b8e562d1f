"""Digest build (pure) and render: numbers with their comparisons, examples, empty and tiny periods, topics,
the trailing baseline, spikes, campaigns, tickets, clusters, charts and e-mail-safe HTML (hand-made rows)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from digest.build import Count, DayCounts, Period, build_digest, history_start, pick_examples
from digest.render import render_html, render_markdown
from digest.spikes import OVERALL, SpikeRules, detect_spikes
from digest.topics import load_topic_names, topic_name

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


# -- topics, baseline, spikes, campaigns, tickets, clusters (hand-made rows) ------------------------------------

NAMES = {
    "pembayaran_dana": {"id": "Pembayaran & pencairan dana", "en": "Payment & disbursement"},
    "aplikasi_sistem": {"id": "Gangguan aplikasi & sistem", "en": "App & system faults"},
}
WEEK = Period.ending("week", date(2026, 11, 15))


def trow(i, sentiment, topics, *, day=10, author=None, text=None, hour=3, campaign=None, **extra):
    r = row(i, sentiment, author=author, text=text, day=day)
    r["created_at"] = datetime(2026, 11, day, hour, 0, tzinfo=UTC) if day > 0 else r["created_at"]
    r["topics"] = topics
    r["topics_model"] = None if topics is None else "topics-test-1"
    if campaign:
        r["campaign_id"] = campaign
    r.update(extra)
    return r


def at(i, sentiment, topics, when: datetime, **kw):
    r = trow(i, sentiment, topics, **kw)
    r["created_at"] = when
    return r


WORDS = ["lagi", "terus", "juga", "kemarin", "sekarang", "parah", "banget"]


def topic_rows():
    cur = [
        trow(i, "negative", "pembayaran_dana", text=f"insentif belum cair {WORDS[i % 7]}") for i in range(168)
    ]
    cur += [
        trow(500 + i, "negative", "aplikasi_sistem;pembayaran_dana", text=f"aplikasi error {WORDS[i]}")
        for i in range(5)
    ]
    cur += [trow(600 + i, "positive", "pembayaran_dana", text=f"makasih udah cair {i}") for i in range(4)]
    cur += [trow(700, "neutral", "")]  # predicted, no topic
    prev = [trow(1000 + i, "negative", "pembayaran_dana", day=3) for i in range(118)]
    prev += [trow(1200 + i, "negative", "aplikasi_sistem", day=3) for i in range(9)]
    return cur, prev


def test_topics_ranked_by_complaints_and_by_change_with_sentences_in_both_languages():
    cur, prev = topic_rows()
    data = build_digest(cur, prev, period=WEEK, generated_at=NOW, topic_names=NAMES)
    assert data.has_topics and data.topic_coverage == len(cur)
    pay, app = data.complaints_by_volume
    assert (pay.id, pay.negative.count, pay.negative.previous, pay.mentions.count) == (
        "pembayaran_dana",
        173,
        118,
        177,
    )
    assert (app.negative.count, app.negative.previous) == (5, 9)
    assert [t.id for t in data.complaints_by_change] == ["pembayaran_dana"]  # aplikasi fell
    assert [t.id for t in data.praised] == ["pembayaran_dana"]
    md = render_markdown(data)
    assert "Keluhan pembayaran & pencairan dana naik 47% (118 → 173)." in md
    assert "Keluhan gangguan aplikasi & sistem turun 44% (9 → 5)." in md
    assert "| Pembayaran & pencairan dana | 173 (sebelumnya 118) | +47% | — | 98% dari 177 |" in md
    assert "## Yang dikeluhkan" in md and "## Yang berjalan baik" in md and "## Contoh keluhan" not in md
    en = render_markdown(data, lang="en")
    assert "Complaints about payment & disbursement rose 47% (118 → 173)." in en
    assert "Payment & disbursement: 4 praising (previously 0)" in en
    # examples: three per complaint topic, central ones, never the same post under two topics when avoidable
    assert len(pay.complaints) == 3 and len(app.complaints) == 3
    assert not {e.text for e in pay.complaints} & {e.text for e in app.complaints}


def test_aspect_sentiments_decide_a_topics_complaints_and_praise():
    # "aplikasinya lancar, tapi insentif belum cair": negative as a whole, but praise for the app.
    cur, prev = topic_rows()
    before = build_digest(cur, prev, period=WEEK, generated_at=NOW, topic_names=NAMES)
    for r in cur:
        if 500 <= r["id"] < 505:
            r["aspects"] = {"aplikasi_sistem": "positive", "pembayaran_dana": "negative"}
    data = build_digest(cur, prev, period=WEEK, generated_at=NOW, topic_names=NAMES)
    app = next(t for t in data.topics if t.id == "aplikasi_sistem")
    pay = next(t for t in data.topics if t.id == "pembayaran_dana")
    assert (app.mentions.count, app.negative.count, app.positive.count) == (5, 0, 5)
    assert not app.complaints and len(app.praise) == 2
    assert (pay.negative.count, pay.positive.count) == (173, 4)
    assert [t.id for t in data.complaints_by_volume] == ["pembayaran_dana"]
    # the items' own sentiment still counts once in the overall shares
    assert data.sentiment["negative"].count == before.sentiment["negative"].count


def test_without_a_taxonomy_topic_ids_are_shown():
    cur, prev = topic_rows()
    data = build_digest(cur, prev, period=WEEK, generated_at=NOW)
    md = render_markdown(data)
    assert "Keluhan pembayaran_dana naik 47% (118 → 173)." in md
    assert "| pembayaran_dana | 173 (sebelumnya 118) |" in md
    assert data.topic_name("aplikasi_sistem", "en") == "aplikasi_sistem"


def test_items_without_topic_predictions_are_counted_and_said():
    rows = [trow(1, "negative", "pembayaran_dana"), trow(2, "negative", None), trow(3, "negative", None)]
    data = build_digest(rows, [], period=WEEK, generated_at=NOW, topic_names=NAMES)
    assert data.topic_coverage == 1
    assert "2 dari 3 masukan belum punya prediksi topik." in render_markdown(data)


def test_a_topic_with_only_one_author_says_so_and_quotes_them_once():
    rows = [
        trow(i, "negative", "aplikasi_sistem", author="a_same", text=f"app error lagi ke-{i}")
        for i in range(4)
    ]
    data = build_digest(rows, [], period=WEEK, generated_at=NOW, topic_names=NAMES)
    (topic,) = data.topics
    assert topic.negative_authors == 1 and len(topic.complaints) == 1
    md = render_markdown(data)
    assert "Keluhan gangguan aplikasi & sistem muncul: 4 (sebelumnya 0). Semua dari 1 orang." in md
    assert "All from 1 person." in render_markdown(data, lang="en")
    one = build_digest(rows[:1], [], period=WEEK, generated_at=NOW, topic_names=NAMES)
    assert "muncul: 1 (sebelumnya 0). Dari 1 orang." in render_markdown(one)


def test_small_bases_are_told_in_numbers_not_percent():
    cur = [trow(i, "negative", "aplikasi_sistem") for i in range(4)]
    prev = [trow(100, "negative", "aplikasi_sistem", day=3)]
    md = render_markdown(build_digest(cur, prev, period=WEEK, generated_at=NOW, topic_names=NAMES))
    assert "Keluhan gangguan aplikasi & sistem naik dari 1 ke 4." in md and "naik 300%" not in md


def weeks_of_history(per_week: list[tuple[int, int]]) -> list[dict]:
    """(negative, positive) counts for the weeks before WEEK, nearest first, all on the Monday."""
    rows, i = [], 10_000
    for k, (n_neg, n_pos) in enumerate(per_week, 1):
        when = datetime(2026, 11, 9, 3, tzinfo=UTC) - timedelta(weeks=k)
        for label, n in (("negative", n_neg), ("positive", n_pos)):
            for _ in range(n):
                rows.append(at(i, label, "pembayaran_dana", when))
                i += 1
    return rows


def test_trailing_baseline_is_the_mean_of_four_covered_weeks():
    history = weeks_of_history([(6, 4), (2, 8), (4, 6), (4, 6)])  # negative shares 60%, 20%, 40%, 40%
    cur = [trow(i, "negative", "pembayaran_dana") for i in range(9)] + [
        trow(50, "positive", "pembayaran_dana")
    ]
    previous = [r for r in history if WEEK.previous().contains(r["created_at"].date())]
    data = build_digest(cur, previous, period=WEEK, generated_at=NOW, history=history, topic_names=NAMES)
    assert data.baseline_periods == 4
    assert data.total == Count(10, 10, 10.0)
    assert data.sentiment["negative"].baseline_share == pytest.approx(0.4)
    assert data.sentiment["negative"].change_vs_baseline_pp == pytest.approx(50.0)
    assert data.topics[0].negative == Count(9, 6, 4.0)
    md = render_markdown(data)
    assert (
        "Keluhan (negatif) naik dari 60% ke 90% (+30 poin). Rata-rata 4 minggu sebelumnya: 40% (+50 poin)."
        in md
    )
    assert "- Total masukan: 10 (sebelumnya 10, +0%) · rata-rata 4 minggu sebelumnya 10 (+0%)" in md
    assert "negatif: 90% (9; sebelumnya 60%, +30 poin) · rata-rata 4 minggu sebelumnya 40% (+50 poin)" in md
    assert "The 4-week average was 40% (+50 points)." in render_markdown(data, lang="en")


def test_no_baseline_from_weeks_before_the_store_began():
    history = weeks_of_history([(6, 4), (2, 8)])  # the store began two weeks ago: two covered weeks
    previous = [r for r in history if WEEK.previous().contains(r["created_at"].date())]
    cur = [trow(1, "negative", "pembayaran_dana")]
    two = build_digest(cur, previous, period=WEEK, generated_at=NOW, history=history)
    assert two.baseline_periods == 2 and two.total.baseline == 10.0
    # the store began last week: one earlier week is no trailing baseline, and empty older weeks are not zeros
    one = build_digest(cur, previous, period=WEEK, generated_at=NOW, history=previous)
    assert one.baseline_periods == 0 and one.total.baseline is None
    assert "rata-rata" not in render_markdown(one)
    # told that the store is older, the empty weeks before are real zeros
    old = build_digest(
        cur, previous, period=WEEK, generated_at=NOW, history=previous, first_day=date(2026, 1, 1)
    )
    assert old.baseline_periods == 4 and old.total.baseline == 2.5


def test_history_window_covers_baseline_and_spike_window():
    assert history_start(WEEK) == date(2026, 10, 12)
    assert history_start(Period.ending("day", date(2026, 11, 15))) == date(2026, 10, 18)


def test_detect_spikes_minimum_count_z_score_baseline_days_and_cooldown():
    days = [date(2026, 10, 1) + timedelta(days=i) for i in range(40)]
    quiet = {d: 1 for d in days}
    rules = SpikeRules(z=3.0, min_count=5, window_days=28, min_baseline_days=7, cooldown_days=3)
    # 4 complaints over a baseline of 1/day: z = 3, but below the minimum count
    assert detect_spikes({"t": quiet | {days[30]: 4}}, days, rules) == []
    hits = detect_spikes({"t": quiet | {days[30]: 9}}, days, rules)
    assert [(h.day, h.count, round(h.mean, 2), round(h.z, 1)) for h in hits] == [(days[30], 9, 1.0, 8.0)]
    # a noisy baseline (0 and 6 alternating) makes 9 ordinary
    noisy = {d: (6 if i % 2 else 0) for i, d in enumerate(days)}
    assert detect_spikes({"t": noisy | {days[30]: 9}}, days, rules) == []
    # a storm of four days is one alert, the cooldown then lets a later one through
    storm = quiet | {days[d]: 12 for d in (30, 31, 32, 33)} | {days[38]: 40}
    assert [h.day for h in detect_spikes({"t": storm}, days, rules)] == [days[30], days[38]]
    # too little history: the first week never alerts
    assert detect_spikes({"t": {days[3]: 50}}, days, rules) == []


def test_spikes_per_topic_in_the_digest_and_overall_without_topics():
    history = [
        at(i, "negative", "pembayaran_dana", datetime(2026, 10, 20, 3, tzinfo=UTC) + timedelta(days=i % 20))
        for i in range(20)
    ]
    burst = [trow(100 + i, "negative", "pembayaran_dana", day=13, text=f"belum cair {i}") for i in range(8)]
    data = build_digest(burst, [], period=WEEK, generated_at=NOW, history=history, topic_names=NAMES)
    (spike,) = data.spikes
    assert (spike.key, spike.day, spike.count) == ("pembayaran_dana", date(2026, 11, 13), 8)
    md = render_markdown(data)
    assert (
        "Lonjakan keluhan pembayaran & pencairan dana pada 2026-11-13: 8 dalam sehari (biasanya 0,8/hari)."
        in md
    )
    plain = [dict(r, topics=None) for r in (*history, *burst)]
    data = build_digest(plain[20:], [], period=WEEK, generated_at=NOW, history=plain[:20])
    assert [s.key for s in data.spikes] == [OVERALL]
    assert "Spike in complaints on 2026-11-13: 8 in a day (usually 0.8/day)." in render_markdown(
        data, lang="en"
    )


def test_a_campaign_counts_once_in_trends_but_every_post_in_volume():
    history = [
        at(i, "negative", "ketepatan_sasaran", datetime(2026, 10, 20, 3, tzinfo=UTC) + timedelta(days=i % 20))
        for i in range(20)
    ]
    campaign = [
        trow(
            100 + i, "negative", "ketepatan_sasaran", day=13, text="usut tuntas salah sasaran", campaign="c1"
        )
        for i in range(14)
    ]
    other = [trow(200, "positive", "manfaat_kualitas", day=13)]
    data = build_digest(campaign + other, [], period=WEEK, generated_at=NOW, history=history)
    assert data.total.count == 15 and data.campaign_items == 14 and data.campaigns == 1
    assert data.sentiment["negative"].count == 1 and data.sentiment["negative"].share == 0.5
    assert data.topics[0].negative.count == 1
    assert data.spikes == []  # 14 copies are one voice, not a spike
    assert "14 masukan dari 1 kampanye salin-tempel dihitung sekali dalam tren." in render_markdown(data)
    without = build_digest(
        [dict(r, campaign_id=None) for r in campaign + other],
        [],
        period=WEEK,
        generated_at=NOW,
        history=history,
    )
    assert without.topics[0].negative.count == 14 and [s.key for s in without.spikes] == ["ketepatan_sasaran"]


def ticket(i, status, *, day=10, first=None, solved=None):
    created = datetime(2026, 11, day, 3, 0, tzinfo=UTC)
    meta = {"status": status}
    if first is not None:
        meta["first_response_at"] = (created + timedelta(hours=first)).isoformat()
    if solved is not None:
        meta["solved_at"] = (created + timedelta(hours=solved)).isoformat()
    return trow(i, "negative", None, day=day, source="zendesk", kind="ticket", meta=meta)


def test_tickets_open_resolved_and_median_times_against_the_previous_period():
    cur = [
        ticket(1, "new"),
        ticket(2, "open", first=2),
        ticket(3, "pending", first=4),
        ticket(4, "solved", first=6, solved=30),
        ticket(5, "closed", first=8, solved=72),
    ]
    prev = [ticket(10, "solved", day=3, first=1, solved=10), ticket(11, "open", day=3, first=3)]
    s = build_digest([*cur, trow(9, "negative", None)], prev, period=WEEK, generated_at=NOW).tickets
    assert s.opened == Count(5, 2) and (s.open_now, s.resolved_now) == (3, 2)
    assert (s.previous_open_now, s.previous_resolved_now) == (1, 1)
    assert (s.first_response.hours, s.first_response.n, s.first_response.previous_hours) == (5.0, 4, 2.0)
    assert (s.resolution.hours, s.resolution.previous_hours) == (51.0, 10.0)
    md = render_markdown(build_digest(cur, prev, period=WEEK, generated_at=NOW))
    assert "- Tiket baru: 5 (sebelumnya 2, +150%)" in md
    assert "- Status sekarang: 3 masih terbuka, 2 selesai (periode sebelumnya: 1 terbuka, 1 selesai)" in md
    assert "- Median respons pertama: 5 jam (sebelumnya 2 jam; dari 4 tiket)" in md
    assert "- Median waktu selesai: 2,1 hari (sebelumnya 10 jam; dari 2 tiket)" in md
    assert build_digest([trow(1, "negative", None)], [], period=WEEK, generated_at=NOW).tickets is None


def test_tickets_without_times_say_no_data():
    md = render_markdown(build_digest([ticket(1, "open")], [], period=WEEK, generated_at=NOW), lang="en")
    assert "- Median first response: no data (previous no data; over 0 tickets)" in md


def test_clusters_new_and_rising_are_listed_with_masked_examples():
    clusters = [
        {
            "id": "c7",
            "keywords": ["sertifikat", "hilang", "3.2"],
            "examples": ["sertifikat hilang, hub 081234567890"],
            "size": 12,
            "previous_size": 0,
            "first_seen": "2026-10-26",
            "is_new": True,
        },
        {
            "id": "c3",
            "keywords": ["otp"],
            "examples": ["otp gak masuk", "otp gak masuk"],
            "size": 9,
            "previous_size": 4,
            "first_seen": date(2026, 10, 5),
            "is_new": False,
        },
    ]
    data = build_digest([trow(1, "negative", None)], [], period=WEEK, generated_at=NOW, clusters=clusters)
    assert [c.id for c in data.clusters] == ["c7", "c3"]
    assert data.clusters[1].examples == ["otp gak masuk"]
    md = render_markdown(data)
    assert "- Baru: “sertifikat, hilang, 3.2” — 12 masukan (sebelumnya 0, pertama terlihat 2026-10-26)." in md
    assert "- Meningkat: “otp” — 9 masukan (sebelumnya 4)." in md
    assert "081234567890" not in md and "[TELEPON]" in md
    assert "081234567890" not in render_html(data, charts={})


def test_freshness_warns_when_a_source_lags_the_period():
    fresh = {"x": datetime(2026, 11, 15, 12, tzinfo=UTC), "zendesk": datetime(2026, 11, 11, 12, tzinfo=UTC)}
    data = build_digest([row(1, "negative")], [], period=WEEK, generated_at=NOW, freshness=fresh)
    md = render_markdown(data)
    assert "x 2026-11-15 19:00; zendesk 2026-11-11 19:00 (⚠ tertinggal 4 hari dari akhir periode)" in md


def test_daily_series_for_the_chart():
    rows = [row(1, "negative", day=10), row(2, "positive", day=10), row(3, None, day=12)]
    data = build_digest(rows, [], period=WEEK, generated_at=NOW)
    assert [d.day for d in data.daily] == WEEK.days()
    assert data.daily[1] == DayCounts(date(2026, 11, 10), negative=1, positive=1)
    assert data.daily[3].unclassified == 1


def test_topic_names_from_a_yaml_file_the_taxonomy_module_or_nothing(tmp_path):
    path = tmp_path / "tax.yaml"
    path.write_text(
        "topics:\n  - id: pembayaran_dana\n    name_id: Pembayaran\n    name_en: Payments\n  - bad: 1\n",
        encoding="utf-8",
    )
    names = load_topic_names(path)
    assert names == {"pembayaran_dana": {"id": "Pembayaran", "en": "Payments"}}
    assert topic_name("pembayaran_dana", names, "en") == "Payments"
    assert load_topic_names(tmp_path / "absent.yaml") == {}
    (tmp_path / "broken.yaml").write_text("topics: [", encoding="utf-8")
    assert load_topic_names(tmp_path / "broken.yaml") == {}
    bundled = load_topic_names()  # models.taxonomy when it is there, else the YAML, else nothing
    assert all(isinstance(v, dict) for v in bundled.values())


def test_html_is_email_safe_tables_inline_styles_charts_and_no_script():
    cur, prev = topic_rows()
    data = build_digest(cur, prev, period=WEEK, generated_at=NOW, topic_names=NAMES)
    page = render_html(data, lang="en")
    assert "<script" not in page.lower() and "display:flex" not in page
    assert page.count('<img class="chart" src="data:image/png;base64,') == 2
    assert 'role="presentation"' in page and 'width="640"' in page
    assert (
        '<meta name="description" content="Complaints (negative) fell from 100% to 97% (-3 points).">' in page
    )
    mail = render_html(data, lang="en", image_src=lambda name, _png: f"cid:{name}")
    assert 'src="cid:sentiment"' in mail and 'src="cid:topics"' in mail and "base64" not in mail
    no_charts = render_html(data, charts={})
    assert "<img" not in no_charts


def test_charts_are_png_and_deterministic():
    from digest.charts import make_charts

    cur, prev = topic_rows()
    data = build_digest(cur, prev, period=WEEK, generated_at=NOW, topic_names=NAMES)
    charts = make_charts(data, "id")
    assert set(charts) == {"sentiment", "topics"}
    assert all(png.startswith(b"\x89PNG") for png in charts.values())
    assert make_charts(data, "id") == charts
    empty = build_digest([], [], period=WEEK, generated_at=NOW)
    assert make_charts(empty, "id") == {}


def test_empty_period_html_and_english():
    data = build_digest([], [], period=WEEK, generated_at=NOW)
    page = render_html(data, lang="en")
    assert "No feedback in this period (previous period: 0)." in page and "<img" not in page
    md = render_markdown(data, lang="en")
    assert "## " not in md  # no empty sections, just the sentence
