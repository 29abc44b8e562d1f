"""Pure rendering: ``DigestData`` → Markdown (the file, the Prefect artifact, the e-mail's plain text) or HTML.

Every number is shown beside its comparison with the previous period (and the trailing baseline when there is
one). ``render_html`` lives in ``digest.html`` and is re-exported here.

>>> print(render_markdown(data, lang="en").splitlines()[0])
# Voice-of-customer digest — week 2026-11-15
"""

from __future__ import annotations

from dataclasses import replace

from digest.build import DigestData, Example, TopicStat
from digest.html import render_html as render_html
from digest.html import render_index as render_index
from digest.phrases import (
    cluster_sentence,
    fmt_count,
    fmt_count_baseline,
    fmt_share_baseline,
    freshness_items,
    highlights,
    local,
    model_line,
    people_note,
    per_person,
    period_line,
    signed,
    spike_sentence,
    texts,
    ticket_lines,
    title,
    topic_sentence,
)
from digest.phrases import fmt_share as fmt_share
from digest.phrases import headline as headline

TOPIC_ROWS = 8  # topics in the complaints table
TOPIC_DETAILS = 5  # topics shown with their example posts
RISING = 3
PRAISED = 3


def with_tz(data: DigestData, tz: str | None) -> DigestData:
    return data if tz is None or tz == data.tz else replace(data, tz=tz)


def one_line(text: str) -> str:
    return " ".join(text.split())


def _example_line(e: Example, tz: str) -> str:
    return f"{one_line(e.text)} — _{e.source}, {local(e.created_at, tz)}_"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def change_text(topic: TopicStat, t: dict) -> str:
    pct = topic.negative.change_pct
    if pct is None:
        return t["new"] if topic.negative.count else "±0"
    return f"{signed(pct)}%"


def topic_row(topic: TopicStat, data: DigestData, lang: str) -> list[str]:
    """The cells of one complaints-table row: name, complaints (previous), change, baseline, negative share."""
    t = texts(lang)
    neg = topic.negative
    base = "—" if neg.baseline is None else f"{neg.baseline:.1f}".replace(".", "," if lang == "id" else ".")
    return [
        data.topic_name(topic.id, lang),
        f"{neg.count} ({t['prev']} {neg.previous})",
        change_text(topic, t),
        base,
        t["of_mentions"].format(pct=100 * topic.negative_share, n=topic.mentions.count),
    ]


def topic_header(data: DigestData, lang: str) -> list[str]:
    t = texts(lang)
    cols = [t["col_topic"], t["col_complaints"], t["col_change"]]
    cols.append(t["col_baseline"].format(n=data.baseline_periods or 4, unit=t[f"{data.period.kind}s"]))
    return [*cols, t["col_negative_share"]]


def render_markdown(data: DigestData, *, lang: str = "id", tz: str | None = None) -> str:
    t = texts(lang)
    data = with_tz(data, tz)
    lines = [f"# {title(data, lang)}", "", period_line(data, lang), ""]
    if data.is_empty:
        lines += [t["empty"].format(prev=data.total.previous), ""]
    else:
        lines += _body(data, lang)
    lines += ["", "---", ""]
    if data.freshness:
        lines += [f"{t['freshness']}: " + "; ".join(freshness_items(data, lang)), ""]
    lines += [model_line(data, lang), ""]
    return "\n".join(lines)


def _body(data: DigestData, lang: str) -> list[str]:
    t = texts(lang)
    first, *rest = highlights(data, lang)
    lines = [f"**{first}**", ""]
    if rest:
        lines += [f"- {s}" for s in rest] + [""]

    lines += [f"## {t['volume']}", ""]
    lines += [f"- {t['total']}: {fmt_count_baseline(data.total, data, t, lang)}"]
    people = f"- {t['people']}: {fmt_count(data.authors, t)}"
    if ratio := per_person(data, lang):
        people += f" · {ratio}"
    lines += [people]
    lines += [
        f"- {t['by_source']}: " + "; ".join(f"{k} {fmt_count(v, t)}" for k, v in data.by_source.items())
    ]
    lines += [
        f"- {t['by_kind']}: "
        + "; ".join(f"{t['kinds'].get(k, k)} {fmt_count(v, t)}" for k, v in data.by_kind.items())
    ]
    if data.campaigns:
        lines += [f"- {t['campaign'].format(items=data.campaign_items, n=data.campaigns)}"]

    lines += ["", f"## {t['sentiment']}", ""]
    lines += [f"- {t[s]}: {fmt_share_baseline(share, data, t)}" for s, share in data.sentiment.items()]
    if data.unclassified:
        lines += ["", t["unclassified"].format(n=data.unclassified)]

    if data.has_topics:
        lines += _topics(data, lang)
    else:
        lines += ["", f"## {t['complaints']}", ""]
        lines += [f"{i}. {_example_line(e, data.tz)}" for i, e in enumerate(data.negative_examples, 1)] or [
            t["none"]
        ]

    lines += ["", f"## {t['new_rising']}", ""]
    news = []
    for c in data.clusters:
        news += [f"- {cluster_sentence(c, lang)}", *(f"  - {one_line(x)}" for x in c.examples)]
    news += [f"- {spike_sentence(s, data, lang)}" for s in data.spikes]
    lines += news or [t["no_new"]]

    if data.has_topics:
        lines += ["", f"## {t['works']}", ""]
        praised = data.praised[:PRAISED]
        for topic in praised:
            name = data.topic_name(topic.id, lang)
            lines += [
                f"- **{t['praise_line'].format(name=name, cur=topic.positive.count, prev=topic.positive.previous)}**"
            ]
            lines += [f"  - {_example_line(e, data.tz)}" for e in topic.praise]
        if not praised:
            lines += [t["none"]]
    else:
        lines += ["", f"## {t['praise']}", ""]
        lines += [f"{i}. {_example_line(e, data.tz)}" for i, e in enumerate(data.positive_examples, 1)] or [
            t["none"]
        ]

    if data.tickets:
        lines += ["", f"## {t['tickets']}", ""]
        lines += [f"- {label}: {value}" for label, value in ticket_lines(data.tickets, lang)]
    return lines


def _topics(data: DigestData, lang: str) -> list[str]:
    t = texts(lang)
    lines = ["", f"## {t['topics']}", "", t["topics_intro"], ""]
    ranked = data.complaints_by_volume
    if not ranked:
        lines += [t["none"]]
    else:
        header = topic_header(data, lang)
        lines += ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
        lines += [
            "| " + " | ".join(_cell(c) for c in topic_row(x, data, lang)) + " |" for x in ranked[:TOPIC_ROWS]
        ]
        for topic in ranked[:TOPIC_DETAILS]:
            lines += ["", f"### {data.topic_name(topic.id, lang)}", ""]
            lines += [f"{topic_sentence(topic, lang, data)} {people_note(topic, t)}", ""]
            lines += [f"{i}. {_example_line(e, data.tz)}" for i, e in enumerate(topic.complaints, 1)]
    missing = data.total.count - data.topic_coverage
    if missing:
        lines += ["", t["untopiced"].format(n=missing, total=data.total.count)]
    lines += ["", f"### {t['rising']}", ""]
    lines += [f"- {topic_sentence(x, lang, data)}" for x in data.complaints_by_change[:RISING]] or [
        t["no_rising"]
    ]
    return lines
