"""The digest's words: every sentence is generated from the numbers, and no number stands without its comparison.

>>> topic_sentence(data.complaints_by_change[0], "id", data)  # the bundled sample, gold labels
'Keluhan pembayaran & pencairan dana naik 32% (22 → 29).'

Indonesian by default; English with ``lang="en"``. Used by the Markdown, the HTML, Slack and e-mail alike.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from digest.build import Cluster, Count, DigestData, Median, Share, Spike, TicketStats, TopicStat
from digest.spikes import OVERALL

SMALL_BASE = 5  # below this previous count a change is told in numbers, not in percent

TEXT = {
    "id": {
        "title": "Ringkasan suara pengguna",
        "week": "minggu",
        "day": "hari",
        "weeks": "minggu",
        "days": "hari",
        "period": "Periode {start} s.d. {end} (dibanding {pstart} s.d. {pend})",
        "highlights": "Sorotan",
        "volume": "Volume",
        "total": "Total masukan",
        "people": "Orang unik",
        "per_person": "{m} masukan per orang (sebelumnya {p})",
        "by_source": "Per sumber",
        "by_kind": "Per jenis",
        "sentiment": "Sentimen",
        "negative": "negatif",
        "neutral": "netral",
        "positive": "positif",
        "unclassified_label": "belum diklasifikasi",
        "complaints": "Contoh keluhan",
        "praise": "Yang diapresiasi",
        "topics": "Yang dikeluhkan",
        "topics_intro": "Topik diurutkan menurut jumlah keluhan (sentimen negatif).",
        "rising": "Naik paling cepat",
        "new_rising": "Baru dan meningkat",
        "works": "Yang berjalan baik",
        "tickets": "Tiket",
        "none": "Tidak ada.",
        "no_rising": "Tidak ada topik yang keluhannya naik.",
        "no_new": "Tidak ada klaster baru atau lonjakan.",
        "empty": "Tidak ada masukan pada periode ini (periode sebelumnya: {prev}).",
        "unclassified": "{n} item belum diklasifikasi.",
        "untopiced": "{n} dari {total} masukan belum punya prediksi topik.",
        "campaign": "{items} masukan dari {n} kampanye salin-tempel dihitung sekali dalam tren.",
        "freshness": "Data terbaru per sumber",
        "stale": "tertinggal {n} hari dari akhir periode",
        "model": "Model",
        "model_sentiment": "sentimen",
        "model_topics": "topik",
        "review_check": "cocok dengan peninjau",
        "review_part": "{what} {pct:.0f}% dari {n} item",
        "generated": "Dibuat {at}",
        "prev": "sebelumnya",
        "new": "baru",
        "points": "poin",
        "point": "poin",
        "avg": "rata-rata {n} {unit} sebelumnya",
        "headline_up": "Keluhan (negatif) naik dari {p:.0f}% ke {c:.0f}% ({d} {pts}).",
        "headline_down": "Keluhan (negatif) turun dari {p:.0f}% ke {c:.0f}% ({d} {pts}).",
        "headline_flat": "Porsi keluhan (negatif) stabil di {c:.0f}% ({d} {pts}).",
        "headline_first": "Keluhan (negatif): {c:.0f}% dari masukan; belum ada periode pembanding.",
        "headline_baseline": "Rata-rata {n} {unit} sebelumnya: {b:.0f}% ({d} {pts}).",
        "volume_sentence": "{n} masukan dari {people} orang (sebelumnya {pn} dari {pp}).",
        "topic_up": "Keluhan {name} naik {pct:.0f}% ({prev} → {cur}).",
        "topic_down": "Keluhan {name} turun {pct:.0f}% ({prev} → {cur}).",
        "topic_flat": "Keluhan {name} tetap {cur} (sebelumnya {prev}).",
        "topic_up_small": "Keluhan {name} naik dari {prev} ke {cur}.",
        "topic_down_small": "Keluhan {name} turun dari {prev} ke {cur}.",
        "topic_new": "Keluhan {name} muncul: {cur} (sebelumnya 0).",
        "topic_people": "Dari {n} orang.",
        "topic_one_person": "Semua dari 1 orang.",
        "topic_person": "Dari 1 orang.",
        "col_topic": "Topik",
        "col_complaints": "Keluhan",
        "col_change": "Perubahan",
        "col_baseline": "Rata-rata {n} {unit}",
        "col_negative_share": "Porsi negatif",
        "of_mentions": "{pct:.0f}% dari {n}",
        "praise_line": "{name}: {cur} pujian (sebelumnya {prev})",
        "cluster_new": "Baru: “{kw}” — {size} masukan (sebelumnya 0{since}).",
        "cluster_rising": "Meningkat: “{kw}” — {size} masukan (sebelumnya {prev}).",
        "first_seen": ", pertama terlihat {day}",
        "spike": "Lonjakan keluhan {name} pada {day}: {count} dalam sehari (biasanya {mean}/hari).",
        "spike_all": "Lonjakan keluhan pada {day}: {count} dalam sehari (biasanya {mean}/hari).",
        "spikes": "Lonjakan",
        "clusters": "Klaster dari penemuan topik",
        "tickets_opened": "Tiket baru",
        "tickets_status": "Status sekarang",
        "tickets_state": "{open} masih terbuka, {resolved} selesai (periode sebelumnya: {popen} terbuka, "
        "{presolved} selesai)",
        "first_response": "Median respons pertama",
        "resolution": "Median waktu selesai",
        "median": "{v} ({prev} {p}; dari {n} tiket)",
        "no_data": "tidak ada data",
        "hours": "{v} jam",
        "days_n": "{v} hari",
        "tickets_sentence": "{opened} tiket baru: {open} masih terbuka, {resolved} selesai "
        "(sebelumnya {popened}: {popen} terbuka, {presolved} selesai).",
        "chart_sentiment": "Sentimen per hari",
        "chart_topics": "Keluhan per topik",
        "current": "periode ini",
        "kinds": {"post": "unggahan", "reply": "balasan", "ticket": "tiket"},
        "archive": "Arsip ringkasan",
        "archive_empty": "Belum ada ringkasan.",
        "read_more": "Baca ringkasan lengkap",
        "alert_title": "Peringatan lonjakan keluhan",
    },
    "en": {
        "title": "Voice-of-customer digest",
        "week": "week",
        "day": "day",
        "weeks": "week",
        "days": "day",
        "period": "Period {start} to {end} (compared with {pstart} to {pend})",
        "highlights": "Highlights",
        "volume": "Volume",
        "total": "Total feedback",
        "people": "Unique people",
        "per_person": "{m} messages per person (previously {p})",
        "by_source": "By source",
        "by_kind": "By kind",
        "sentiment": "Sentiment",
        "negative": "negative",
        "neutral": "neutral",
        "positive": "positive",
        "unclassified_label": "unclassified",
        "complaints": "Example complaints",
        "praise": "What people praise",
        "topics": "What people complain about",
        "topics_intro": "Topics ranked by the number of complaints (negative sentiment).",
        "rising": "Rising fastest",
        "new_rising": "New and rising",
        "works": "What works",
        "tickets": "Tickets",
        "none": "None.",
        "no_rising": "No topic has more complaints than before.",
        "no_new": "No new clusters and no spikes.",
        "empty": "No feedback in this period (previous period: {prev}).",
        "unclassified": "{n} items are not classified yet.",
        "untopiced": "{n} of {total} items have no topic prediction yet.",
        "campaign": "{items} posts from {n} copy-paste campaign(s) count once in the trends.",
        "freshness": "Newest data per source",
        "stale": "{n} days behind the end of the period",
        "model": "Model",
        "model_sentiment": "sentiment",
        "model_topics": "topics",
        "review_check": "agrees with reviewers",
        "review_part": "{what} on {pct:.0f}% of {n} items",
        "generated": "Generated {at}",
        "prev": "previous",
        "new": "new",
        "points": "points",
        "point": "point",
        "avg": "{n}-{unit} average",
        "headline_up": "Complaints (negative) rose from {p:.0f}% to {c:.0f}% ({d} {pts}).",
        "headline_down": "Complaints (negative) fell from {p:.0f}% to {c:.0f}% ({d} {pts}).",
        "headline_flat": "The complaint (negative) share held at {c:.0f}% ({d} {pts}).",
        "headline_first": "Complaints (negative): {c:.0f}% of feedback; no earlier period to compare with.",
        "headline_baseline": "The {n}-{unit} average was {b:.0f}% ({d} {pts}).",
        "volume_sentence": "{n} messages from {people} people (previously {pn} from {pp}).",
        "topic_up": "Complaints about {name} rose {pct:.0f}% ({prev} → {cur}).",
        "topic_down": "Complaints about {name} fell {pct:.0f}% ({prev} → {cur}).",
        "topic_flat": "Complaints about {name} held at {cur} (previously {prev}).",
        "topic_up_small": "Complaints about {name} rose from {prev} to {cur}.",
        "topic_down_small": "Complaints about {name} fell from {prev} to {cur}.",
        "topic_new": "Complaints about {name} appeared: {cur} (previously 0).",
        "topic_people": "From {n} people.",
        "topic_one_person": "All from 1 person.",
        "topic_person": "From 1 person.",
        "col_topic": "Topic",
        "col_complaints": "Complaints",
        "col_change": "Change",
        "col_baseline": "{n}-{unit} average",
        "col_negative_share": "Negative share",
        "of_mentions": "{pct:.0f}% of {n}",
        "praise_line": "{name}: {cur} praising (previously {prev})",
        "cluster_new": "New: “{kw}” — {size} messages (previously 0{since}).",
        "cluster_rising": "Rising: “{kw}” — {size} messages (previously {prev}).",
        "first_seen": ", first seen {day}",
        "spike": "Spike in complaints about {name} on {day}: {count} in a day (usually {mean}/day).",
        "spike_all": "Spike in complaints on {day}: {count} in a day (usually {mean}/day).",
        "spikes": "Spikes",
        "clusters": "Clusters from topic discovery",
        "tickets_opened": "New tickets",
        "tickets_status": "Status now",
        "tickets_state": "{open} still open, {resolved} resolved (previous period: {popen} open, "
        "{presolved} resolved)",
        "first_response": "Median first response",
        "resolution": "Median resolution time",
        "median": "{v} ({prev} {p}; over {n} tickets)",
        "no_data": "no data",
        "hours": "{v} h",
        "days_n": "{v} days",
        "tickets_sentence": "{opened} new tickets: {open} still open, {resolved} resolved "
        "(previously {popened}: {popen} open, {presolved} resolved).",
        "chart_sentiment": "Sentiment per day",
        "chart_topics": "Complaints per topic",
        "current": "this period",
        "kinds": {"post": "posts", "reply": "replies", "ticket": "tickets"},
        "archive": "Digest archive",
        "archive_empty": "No digests yet.",
        "read_more": "Read the full digest",
        "alert_title": "Complaint spike alert",
    },
}


def signed(value: float) -> str:
    """``+42``, ``-7``, and ``+0`` rather than ``-0`` for a change that rounds to nothing."""
    text = f"{value:+.0f}"
    return "+0" if text == "-0" else text


def texts(lang: str) -> dict:
    if lang not in TEXT:
        raise ValueError(f"unknown language {lang!r}; use 'id' or 'en'")
    return TEXT[lang]


def num(value: float, lang: str, digits: int = 1) -> str:
    """``1.4`` in English, ``1,4`` in Indonesian; whole numbers without decimals."""
    text = f"{value:.0f}" if abs(value - round(value)) < 1e-9 else f"{value:.{digits}f}"
    return text.replace(".", ",") if lang == "id" else text


def local(dt: datetime, tz: str) -> str:
    return dt.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def avg_label(data: DigestData, t: dict) -> str:
    return t["avg"].format(n=data.baseline_periods, unit=t[f"{data.period.kind}s"])


def fmt_count(c: Count, t: dict) -> str:
    """``"168 (sebelumnya 118, +42%)"``: a number never stands without its comparison."""
    change = c.change_pct
    delta = t["new"] if change is None and c.count else (f"{signed(change)}%" if change is not None else "±0")
    return f"{c.count} ({t['prev']} {c.previous}, {delta})"


def fmt_count_baseline(c: Count, data: DigestData, t: dict, lang: str) -> str:
    """The count, its previous period and, when there is one, the trailing baseline."""
    out = fmt_count(c, t)
    if c.baseline is not None and data.baseline_periods:
        pct = c.change_vs_baseline_pct
        out += f" · {avg_label(data, t)} {num(c.baseline, lang)}" + (
            f" ({signed(pct)}%)" if pct is not None else ""
        )
    return out


def points(d: float, t: dict) -> str:
    """``+25 poin``, ``+1 point``, ``-3 points``: a change in percentage points."""
    return f"{signed(d)} {t['point'] if round(abs(d)) == 1 else t['points']}"


def fmt_share(s: Share, t: dict) -> str:
    if s.change_pp is None:
        return f"{100 * s.share:.0f}% ({s.count})"
    return f"{100 * s.share:.0f}% ({s.count}; {t['prev']} {100 * s.previous_share:.0f}%, {points(s.change_pp, t)})"


def fmt_share_baseline(s: Share, data: DigestData, t: dict) -> str:
    out = fmt_share(s, t)
    if s.baseline_share is not None and data.baseline_periods:
        out += f" · {avg_label(data, t)} {100 * s.baseline_share:.0f}% ({points(s.change_vs_baseline_pp, t)})"
    return out


def headline(data: DigestData, t: dict) -> str:
    neg = data.sentiment["negative"]
    cur = 100 * neg.share
    if neg.previous_share is None:
        return t["headline_first"].format(c=cur)
    prev, d = 100 * neg.previous_share, neg.change_pp or 0.0
    key = "headline_flat" if abs(d) < 1 else ("headline_up" if d > 0 else "headline_down")
    return t[key].format(p=prev, c=cur, d=signed(d), pts=t["point"] if round(abs(d)) == 1 else t["points"])


def baseline_sentence(data: DigestData, t: dict) -> str | None:
    neg = data.sentiment["negative"]
    if neg.baseline_share is None or not data.baseline_periods:
        return None
    return t["headline_baseline"].format(
        n=data.baseline_periods,
        unit=t[f"{data.period.kind}s"],
        b=100 * neg.baseline_share,
        d=signed(neg.change_vs_baseline_pp),
        pts=t["point"] if round(abs(neg.change_vs_baseline_pp)) == 1 else t["points"],
    )


def in_sentence(name: str) -> str:
    """A topic name inside a sentence: ``Pembayaran dana`` → ``pembayaran dana``; ``KTP`` stays."""
    return name[0].lower() + name[1:] if len(name) > 1 and name[1].islower() else name


def topic_sentence(topic: TopicStat, lang: str, data: DigestData | None = None) -> str:
    t = texts(lang)
    name = in_sentence(data.topic_name(topic.id, lang) if data else topic.id)
    cur, prev = topic.negative.count, topic.negative.previous
    if prev == 0:
        return t["topic_new"].format(name=name, cur=cur)
    if cur == prev:
        return t["topic_flat"].format(name=name, cur=cur, prev=prev)
    key = "topic_up" if cur > prev else "topic_down"
    if prev < SMALL_BASE:  # "+300%" from 1 to 4 says more than it means
        key += "_small"
    return t[key].format(name=name, pct=abs(topic.negative.change_pct or 0.0), prev=prev, cur=cur)


def people_note(topic: TopicStat, t: dict) -> str:
    n = topic.negative_authors
    if n == 1:
        return t["topic_one_person"] if topic.negative.count > 1 else t["topic_person"]
    return t["topic_people"].format(n=n) if n else ""


def spike_sentence(spike: Spike, data: DigestData, lang: str) -> str:
    t = texts(lang)
    values = {"day": spike.day.isoformat(), "count": spike.count, "mean": num(spike.mean, lang)}
    if spike.key == OVERALL:
        return t["spike_all"].format(**values)
    return t["spike"].format(name=in_sentence(data.topic_name(spike.key, lang)), **values)


def cluster_sentence(cluster: Cluster, lang: str) -> str:
    t = texts(lang)
    kw = ", ".join(cluster.keywords[:5]) or cluster.id
    if cluster.is_new or not cluster.previous_size:
        since = t["first_seen"].format(day=cluster.first_seen.isoformat()) if cluster.first_seen else ""
        return t["cluster_new"].format(kw=kw, size=cluster.size, since=since)
    return t["cluster_rising"].format(kw=kw, size=cluster.size, prev=cluster.previous_size)


def duration(hours: float | None, lang: str) -> str:
    t = texts(lang)
    if hours is None:
        return t["no_data"]
    if hours < 48:
        return t["hours"].format(v=num(hours, lang, 0) if hours >= 10 else num(hours, lang))
    return t["days_n"].format(v=num(hours / 24, lang))


def fmt_median(m: Median, lang: str) -> str:
    t = texts(lang)
    return t["median"].format(
        v=duration(m.hours, lang), prev=t["prev"], p=duration(m.previous_hours, lang), n=m.n
    )


def ticket_lines(s: TicketStats, lang: str) -> list[tuple[str, str]]:
    t = texts(lang)
    state = t["tickets_state"].format(
        open=s.open_now, resolved=s.resolved_now, popen=s.previous_open_now, presolved=s.previous_resolved_now
    )
    return [
        (t["tickets_opened"], fmt_count(s.opened, t)),
        (t["tickets_status"], state),
        (t["first_response"], fmt_median(s.first_response, lang)),
        (t["resolution"], fmt_median(s.resolution, lang)),
    ]


def ticket_sentence(s: TicketStats, lang: str) -> str:
    return texts(lang)["tickets_sentence"].format(
        opened=s.opened.count,
        open=s.open_now,
        resolved=s.resolved_now,
        popened=s.opened.previous,
        popen=s.previous_open_now,
        presolved=s.previous_resolved_now,
    )


def highlights(data: DigestData, lang: str, limit: int = 6) -> list[str]:
    """The few sentences a reader takes away, most important first."""
    t = texts(lang)
    if data.is_empty:
        return [t["empty"].format(prev=data.total.previous)]
    first = headline(data, t)
    if base := baseline_sentence(data, t):
        first += " " + base
    out = [
        first,
        t["volume_sentence"].format(
            n=data.total.count, people=data.authors.count, pn=data.total.previous, pp=data.authors.previous
        ),
    ]
    chosen: list[TopicStat] = data.complaints_by_change[:2]
    top = data.complaints_by_volume[:1]
    chosen += [x for x in top if x not in chosen]
    out += [topic_sentence(x, lang, data) for x in chosen]
    out += [cluster_sentence(c, lang) for c in data.clusters if c.is_new][:1]
    out += [spike_sentence(s, data, lang) for s in data.spikes[:1]]
    if data.tickets and data.tickets.opened.count:
        out.append(ticket_sentence(data.tickets, lang))
    return out[:limit]


def freshness_items(data: DigestData, lang: str) -> list[str]:
    t = texts(lang)
    out = []
    end = data.period.end
    for source, at in sorted(data.freshness.items()):
        item = f"{source} {local(at, data.tz)}"
        behind = (end - at.astimezone(ZoneInfo(data.tz)).date()).days
        if behind >= 2:
            item += f" (⚠ {t['stale'].format(n=behind)})"
        out.append(item)
    return out


def model_line(data: DigestData, lang: str) -> str:
    t = texts(lang)
    models = ", ".join(data.model_versions) or "—"
    if data.topic_model_versions:
        models = (
            f"{t['model_sentiment']} {models}; {t['model_topics']} {', '.join(data.topic_model_versions)}"
        )
    line = f"{t['model']}: {models}"
    if check := review_check(data, lang):
        line += f" · {check}"
    return f"{line} · {t['generated'].format(at=local(data.generated_at, data.tz))}"


def review_check(data: DigestData, lang: str) -> str | None:
    """ "agrees with reviewers: sentiment on 84% of 120 items, topics on 77% of 95 items", or None when nobody
    reviewed anything."""
    r = data.review
    if r is None:
        return None
    t = texts(lang)
    parts = [
        t["review_part"].format(what=t[key], pct=100 * agree / n, n=n)
        for key, n, agree in (
            ("model_sentiment", r.sentiment_n, r.sentiment_agree),
            ("model_topics", r.topics_n, r.topics_agree),
        )
        if n
    ]
    return f"{t['review_check']}: {', '.join(parts)}" if parts else None


def title(data: DigestData, lang: str) -> str:
    t = texts(lang)
    return f"{t['title']} — {t[data.period.kind]} {data.period.end.isoformat()}"


def period_line(data: DigestData, lang: str) -> str:
    p, pp = data.period, data.previous_period
    return texts(lang)["period"].format(start=p.start, end=p.end, pstart=pp.start, pend=pp.end)


def per_person(data: DigestData, lang: str) -> str | None:
    if not data.authors.count:
        return None
    prev = num(data.total.previous / data.authors.previous, lang) if data.authors.previous else "—"
    return texts(lang)["per_person"].format(m=num(data.total.count / data.authors.count, lang), p=prev)
