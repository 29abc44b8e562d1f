"""The digest as one HTML page that stands alone in a browser and survives e-mail clients.

E-mail clients strip scripts, most ``<style>`` rules and CSS layout, so the page is built the old way: nested
``role="presentation"`` tables 640 px wide, every style inline, colours doubled as ``bgcolor``, no JavaScript.
Charts are PNGs: embedded as ``data:`` URIs for the file (a browser shows them offline), or referenced as
``cid:`` parts for e-mail (Gmail and Outlook do not show ``data:`` images):

>>> page = render_html(data, lang="en")                                     # data: URIs
>>> page = render_html(data, lang="en", image_src=lambda name, png: f"cid:{name}")  # e-mail
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from digest.build import SENTIMENTS, DigestData, Example
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
    spike_sentence,
    texts,
    ticket_lines,
    title,
    topic_sentence,
)

FONT = "-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"
INK, MUTED, LINE = "#1f2328", "#656d76", "#eaeef2"
COLORS = {"negative": "#cf222e", "neutral": "#8c959f", "positive": "#1a7f37"}
WIDTH = 640
INNER = WIDTH - 2 * 28
TOPIC_ROWS, TOPIC_DETAILS, RISING, PRAISED = 8, 5, 3, 3

# Only what inline styles cannot say: the phone layout and the reset. Clients that drop it lose nothing.
_CSS = (
    "body{margin:0;padding:0;background:#f6f8fa}"
    "@media (max-width:660px){.wrap{width:100%!important}.pad{padding-left:14px!important;"
    "padding-right:14px!important}img.chart{width:100%!important;height:auto!important}}"
)

esc = html.escape
ImageSrc = Callable[[str, bytes], str]


def data_uri(_name: str, png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _section(inner: str, top: int = 10) -> str:
    return (
        f'<tr><td class="pad" style="padding:{top}px 28px 6px 28px;font-family:{FONT};font-size:15px;'
        f'line-height:1.5;color:{INK}">{inner}</td></tr>'
    )


def _h2(text: str) -> str:
    return (
        f'<h2 style="margin:14px 0 8px 0;padding-bottom:4px;border-bottom:1px solid #d0d7de;font-size:17px;'
        f'line-height:1.3;color:{INK}">{esc(text)}</h2>'
    )


def _h3(text: str) -> str:
    return f'<h3 style="margin:14px 0 4px 0;font-size:15px;line-height:1.3;color:{INK}">{esc(text)}</h3>'


def _p(text: str, muted: bool = False, size: int = 15) -> str:
    color = MUTED if muted else INK
    return f'<p style="margin:6px 0;font-size:{size}px;color:{color}">{esc(text)}</p>'


def _table(rows: Sequence[str], attrs: str = "") -> str:
    return (
        f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        f'style="border-collapse:collapse;width:100%"{attrs}>' + "".join(rows) + "</table>"
    )


def _kv(rows: Sequence[tuple[str, str]]) -> str:
    cell = f"padding:5px 8px 5px 0;border-bottom:1px solid {LINE};vertical-align:top;font-size:14px"
    return _table(
        [
            f'<tr><td width="34%" style="{cell};color:{MUTED};width:34%">{esc(k)}</td>'
            f'<td style="{cell};color:{INK}">{esc(v)}</td></tr>'
            for k, v in rows
        ]
    )


def _quotes(items: Sequence[tuple[str, str | None]]) -> str:
    """Quoted posts, each with an optional caption (source and time) under it."""
    rows = []
    for text, caption in items:
        under = f'<br><span style="font-size:12px;color:{MUTED}">{esc(caption)}</span>' if caption else ""
        rows.append(
            f'<tr><td style="padding:3px 0 3px 10px;border-left:3px solid #d0d7de;font-size:14px;color:{INK}">'
            f"{esc(' '.join(text.split()))}{under}</td></tr>"
            '<tr><td style="height:6px;font-size:0;line-height:0">&nbsp;</td></tr>'
        )
    return _table(rows) if rows else ""


def _examples(examples: Sequence[Example], tz: str) -> str:
    return _quotes([(e.text, f"{e.source}, {local(e.created_at, tz)}") for e in examples])


def _bullets(items: Sequence[str]) -> str:
    return "".join(
        f'<tr><td width="16" style="width:16px;vertical-align:top;color:{MUTED};font-size:15px">•</td>'
        f'<td style="padding:0 0 6px 0;font-size:15px;color:{INK}">{esc(s)}</td></tr>'
        for s in items
    )


def _sentiment_bar(data: DigestData) -> str:
    cells = [
        f'<td width="{100 * data.sentiment[s].share:.1f}%" bgcolor="{COLORS[s]}" '
        f'style="background:{COLORS[s]};height:14px;font-size:0;line-height:0">&nbsp;</td>'
        for s in SENTIMENTS
        if data.sentiment[s].share >= 0.005
    ]
    return _table([f"<tr>{''.join(cells)}</tr>"], ' aria-label="sentiment"') if cells else ""


def _chart(name: str, charts: Mapping[str, bytes], image_src: ImageSrc, alt: str) -> str:
    if name not in charts:
        return ""
    return (
        f'<img class="chart" src="{esc(image_src(name, charts[name]))}" alt="{esc(alt)}" width="{INNER}" '
        f'style="display:block;width:{INNER}px;max-width:100%;height:auto;border:0;margin:8px 0">'
    )


def _topics(data: DigestData, lang: str, charts: Mapping[str, bytes], image_src: ImageSrc) -> list[str]:
    from digest.render import topic_header, topic_row  # the table's cells are shared with the Markdown

    t = texts(lang)
    out = [_h2(t["topics"]), _p(t["topics_intro"], muted=True, size=13)]
    ranked = data.complaints_by_volume
    if not ranked:
        return [*out, _p(t["none"])]
    out.append(_chart("topics", charts, image_src, t["chart_topics"]))
    th = f"padding:5px 6px;border-bottom:2px solid #d0d7de;font-size:12px;color:{MUTED};text-align:left"
    td = f"padding:5px 6px;border-bottom:1px solid {LINE};font-size:13px;color:{INK}"
    head = "<tr>" + "".join(f'<th style="{th}">{esc(h)}</th>' for h in topic_header(data, lang)) + "</tr>"
    body = [
        "<tr>" + "".join(f'<td style="{td}">{esc(c)}</td>' for c in topic_row(x, data, lang)) + "</tr>"
        for x in ranked[:TOPIC_ROWS]
    ]
    out.append(_table([head, *body]))
    for topic in ranked[:TOPIC_DETAILS]:
        out.append(_h3(data.topic_name(topic.id, lang)))
        out.append(_p(f"{topic_sentence(topic, lang, data)} {people_note(topic, t)}"))
        out.append(_examples(topic.complaints, data.tz))
    missing = data.total.count - data.topic_coverage
    if missing:
        out.append(_p(t["untopiced"].format(n=missing, total=data.total.count), muted=True, size=13))
    out.append(_h3(t["rising"]))
    rising = [topic_sentence(x, lang, data) for x in data.complaints_by_change[:RISING]]
    out.append(_table([_bullets(rising)]) if rising else _p(t["no_rising"]))
    return out


def render_html(
    data: DigestData,
    *,
    lang: str = "id",
    tz: str | None = None,
    charts: Mapping[str, bytes] | None = None,
    image_src: ImageSrc = data_uri,
) -> str:
    """The digest page; ``charts`` default to ``digest.charts.make_charts`` (pass ``{}`` for none)."""
    t = texts(lang)
    if tz is not None and tz != data.tz:
        data = replace(data, tz=tz)
    if charts is None:
        from digest.charts import make_charts

        charts = make_charts(data, lang)
    lead = highlights(data, lang)
    parts = [
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="description" content="{esc(lead[0])}">',
        f"<title>{esc(title(data, lang))}</title><style>{_CSS}</style></head>",
        "<body>",
        # The preheader: the line an inbox shows after the subject.
        f'<div style="display:none;font-size:1px;color:#f6f8fa;max-height:0;overflow:hidden">{esc(lead[0])}</div>',
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" bgcolor="#f6f8fa" '
        'style="background:#f6f8fa"><tr><td align="center" style="padding:16px 8px">',
        f'<table role="presentation" class="wrap" width="{WIDTH}" cellpadding="0" cellspacing="0" border="0" '
        f'bgcolor="#ffffff" style="width:{WIDTH}px;max-width:{WIDTH}px;background:#ffffff;'
        'border:1px solid #d0d7de;border-radius:6px">',
        _section(
            f'<h1 style="margin:0 0 4px 0;font-size:22px;line-height:1.3;color:{INK}">{esc(title(data, lang))}</h1>'
            + _p(period_line(data, lang), muted=True, size=13),
            top=24,
        ),
    ]
    if data.is_empty:
        parts.append(_section(_p(t["empty"].format(prev=data.total.previous))))
    else:
        parts += [_section(s) for s in _body(data, lang, lead, charts, image_src)]
    foot = [esc(f"{t['freshness']}: " + "; ".join(freshness_items(data, lang)))] if data.freshness else []
    foot.append(esc(model_line(data, lang)))
    parts.append(
        f'<tr><td class="pad" style="padding:14px 28px 22px 28px;font-family:{FONT};font-size:12px;'
        f'line-height:1.5;color:{MUTED};border-top:1px solid {LINE}">' + "<br>".join(foot) + "</td></tr>"
    )
    parts.append("</table></td></tr></table></body></html>")
    return "\n".join(parts)


def _body(
    data: DigestData, lang: str, lead: Sequence[str], charts: Mapping[str, bytes], image_src: ImageSrc
) -> list[str]:
    t = texts(lang)
    first, *rest = lead
    box = (
        f'<tr><td style="padding:10px 14px;border-left:4px solid {COLORS["negative"]};background:#fff8f8">'
        f'<p style="margin:0 0 6px 0;font-size:17px;font-weight:bold;line-height:1.4;color:{INK}">{esc(first)}</p>'
        + (_table([_bullets(rest)]) if rest else "")
        + "</td></tr>"
    )
    sections = [_table([box], ' bgcolor="#fff8f8"')]

    people = fmt_count(data.authors, t) + (f" · {r}" if (r := per_person(data, lang)) else "")
    volume = [(t["total"], fmt_count_baseline(data.total, data, t, lang)), (t["people"], people)]
    volume += [(f"{t['by_source']}: {k}", fmt_count(v, t)) for k, v in data.by_source.items()]
    volume += [(f"{t['by_kind']}: {t['kinds'].get(k, k)}", fmt_count(v, t)) for k, v in data.by_kind.items()]
    extra = (
        _p(t["campaign"].format(items=data.campaign_items, n=data.campaigns), True, 13)
        if data.campaigns
        else ""
    )
    sections.append(_h2(t["volume"]) + _kv(volume) + extra)

    sentiment = [(t[s], fmt_share_baseline(share, data, t)) for s, share in data.sentiment.items()]
    block = _h2(t["sentiment"]) + _sentiment_bar(data) + _kv(sentiment)
    if data.unclassified:
        block += _p(t["unclassified"].format(n=data.unclassified), muted=True, size=13)
    sections.append(block + _chart("sentiment", charts, image_src, t["chart_sentiment"]))

    if data.has_topics:
        sections.append("".join(_topics(data, lang, charts, image_src)))
    else:
        sections.append(_h2(t["complaints"]) + (_examples(data.negative_examples, data.tz) or _p(t["none"])))

    news: list[str] = []
    for c in data.clusters:
        news.append(_table([_bullets([cluster_sentence(c, lang)])]))
        news.append(_quotes([(x, None) for x in c.examples]))
    spikes = [spike_sentence(s, data, lang) for s in data.spikes]
    if spikes:
        news.append(_table([_bullets(spikes)]))
    sections.append(_h2(t["new_rising"]) + ("".join(news) or _p(t["no_new"])))

    if data.has_topics:
        block = _h2(t["works"])
        for topic in data.praised[:PRAISED]:
            name = data.topic_name(topic.id, lang)
            line = t["praise_line"].format(name=name, cur=topic.positive.count, prev=topic.positive.previous)
            block += _p(line) + _examples(topic.praise, data.tz)
        sections.append(block if data.praised else block + _p(t["none"]))
    else:
        sections.append(_h2(t["praise"]) + (_examples(data.positive_examples, data.tz) or _p(t["none"])))

    if data.tickets:
        sections.append(_h2(t["tickets"]) + _kv(ticket_lines(data.tickets, lang)))
    return sections


def render_index(entries: Sequence[tuple[str, str, str]], *, lang: str = "id") -> str:
    """The archive page: (href, title, one-line summary) per digest, newest first."""
    t = texts(lang)
    rows = [
        f'<tr><td style="padding:8px 0;border-bottom:1px solid {LINE};font-family:{FONT}">'
        f'<a href="{esc(href)}" style="color:#0969da;font-size:15px;text-decoration:none">{esc(name)}</a><br>'
        f'<span style="font-size:13px;color:{MUTED}">{esc(summary)}</span></td></tr>'
        for href, name, summary in entries
    ]
    body = _table(rows) if rows else _p(t["archive_empty"])
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(t['archive'])}</title><style>{_CSS}</style></head><body>"
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" bgcolor="#f6f8fa">'
        '<tr><td align="center" style="padding:16px 8px">'
        f'<table role="presentation" class="wrap" width="{WIDTH}" cellpadding="0" cellspacing="0" border="0" '
        f'bgcolor="#ffffff" style="width:{WIDTH}px;max-width:{WIDTH}px;border:1px solid #d0d7de">'
        + _section(
            f'<h1 style="margin:0 0 8px 0;font-size:22px;color:{INK}">{esc(t["archive"])}</h1>' + body, top=24
        )
        + "</table></td></tr></table></body></html>"
    )
