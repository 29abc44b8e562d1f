"""Pure rendering: ``DigestData`` → Markdown or a self-contained HTML page, in Indonesian or English.

Every number is shown beside its comparison with the previous period.
"""

from __future__ import annotations

import html
from datetime import datetime
from zoneinfo import ZoneInfo

from digest.build import Count, DigestData, Example, Share

TEXT = {
    "id": {
        "title": "Ringkasan suara pengguna",
        "week": "minggu",
        "day": "hari",
        "period": "Periode {start} s.d. {end} (dibanding {pstart} s.d. {pend})",
        "volume": "Volume",
        "total": "Total masukan",
        "people": "Orang unik",
        "by_source": "Per sumber",
        "by_kind": "Per jenis",
        "sentiment": "Sentimen",
        "negative": "negatif",
        "neutral": "netral",
        "positive": "positif",
        "complaints": "Contoh keluhan",
        "praise": "Yang diapresiasi",
        "none": "Tidak ada.",
        "empty": "Tidak ada masukan pada periode ini (periode sebelumnya: {prev}).",
        "unclassified": "{n} item belum diklasifikasi.",
        "freshness": "Data terbaru per sumber",
        "model": "Model",
        "generated": "Dibuat {at}",
        "prev": "sebelumnya",
        "new": "baru",
        "points": "poin",
        "headline_up": "Keluhan (negatif) naik dari {p:.0f}% ke {c:.0f}% ({d:+.0f} poin).",
        "headline_down": "Keluhan (negatif) turun dari {p:.0f}% ke {c:.0f}% ({d:+.0f} poin).",
        "headline_flat": "Porsi keluhan (negatif) stabil di {c:.0f}% ({d:+.0f} poin).",
        "headline_first": "Keluhan (negatif): {c:.0f}% dari masukan; belum ada periode pembanding.",
        "kinds": {"post": "unggahan", "reply": "balasan", "ticket": "tiket"},
    },
    "en": {
        "title": "Voice-of-customer digest",
        "week": "week",
        "day": "day",
        "period": "Period {start} to {end} (compared with {pstart} to {pend})",
        "volume": "Volume",
        "total": "Total feedback",
        "people": "Unique people",
        "by_source": "By source",
        "by_kind": "By kind",
        "sentiment": "Sentiment",
        "negative": "negative",
        "neutral": "neutral",
        "positive": "positive",
        "complaints": "Example complaints",
        "praise": "What people praise",
        "none": "None.",
        "empty": "No feedback in this period (previous period: {prev}).",
        "unclassified": "{n} items are not classified yet.",
        "freshness": "Newest data per source",
        "model": "Model",
        "generated": "Generated {at}",
        "prev": "previous",
        "new": "new",
        "points": "points",
        "headline_up": "Complaints (negative) rose from {p:.0f}% to {c:.0f}% ({d:+.0f} points).",
        "headline_down": "Complaints (negative) fell from {p:.0f}% to {c:.0f}% ({d:+.0f} points).",
        "headline_flat": "The complaint (negative) share held at {c:.0f}% ({d:+.0f} points).",
        "headline_first": "Complaints (negative): {c:.0f}% of feedback; no earlier period to compare with.",
        "kinds": {"post": "posts", "reply": "replies", "ticket": "tickets"},
    },
}


def _t(lang: str) -> dict:
    if lang not in TEXT:
        raise ValueError(f"unknown language {lang!r}; use 'id' or 'en'")
    return TEXT[lang]


def fmt_count(c: Count, t: dict) -> str:
    """``"168 (sebelumnya 118, +42%)"``: a number never stands without its comparison."""
    change = c.change_pct
    delta = t["new"] if change is None and c.count else (f"{change:+.0f}%" if change is not None else "±0")
    return f"{c.count} ({t['prev']} {c.previous}, {delta})"


def fmt_share(s: Share, t: dict) -> str:
    if s.change_pp is None:
        return f"{100 * s.share:.0f}% ({s.count})"
    return f"{100 * s.share:.0f}% ({s.count}; {t['prev']} {100 * s.previous_share:.0f}%, {s.change_pp:+.0f} {t['points']})"


def headline(data: DigestData, t: dict) -> str:
    neg = data.sentiment["negative"]
    cur = 100 * neg.share
    if neg.previous_share is None:
        return t["headline_first"].format(c=cur)
    prev, d = 100 * neg.previous_share, neg.change_pp or 0.0
    key = "headline_flat" if abs(d) < 1 else ("headline_up" if d > 0 else "headline_down")
    return t[key].format(p=prev, c=cur, d=d)


def _local(dt: datetime, tz: str) -> str:
    return dt.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def _example_line(e: Example, tz: str) -> str:
    text = " ".join(e.text.split())
    return f"{text} — _{e.source}, {_local(e.created_at, tz)}_"


def render_markdown(data: DigestData, *, lang: str = "id", tz: str = "Asia/Jakarta") -> str:
    t = _t(lang)
    p, pp = data.period, data.previous_period
    lines = [
        f"# {t['title']} — {t[p.kind]} {p.end.isoformat()}",
        "",
        t["period"].format(start=p.start, end=p.end, pstart=pp.start, pend=pp.end),
        "",
    ]
    if data.is_empty:
        lines += [t["empty"].format(prev=data.total.previous), ""]
    else:
        lines += [
            f"**{headline(data, t)}**",
            "",
            f"## {t['volume']}",
            "",
            f"- {t['total']}: {fmt_count(data.total, t)}",
            f"- {t['people']}: {fmt_count(data.authors, t)}",
        ]
        lines += [
            f"- {t['by_source']}: " + "; ".join(f"{k} {fmt_count(v, t)}" for k, v in data.by_source.items())
        ]
        lines += [
            f"- {t['by_kind']}: "
            + "; ".join(f"{t['kinds'].get(k, k)} {fmt_count(v, t)}" for k, v in data.by_kind.items())
        ]
        lines += ["", f"## {t['sentiment']}", ""]
        lines += [f"- {t[s]}: {fmt_share(share, t)}" for s, share in data.sentiment.items()]
        if data.unclassified:
            lines += ["", t["unclassified"].format(n=data.unclassified)]
        for title, examples in (
            (t["complaints"], data.negative_examples),
            (t["praise"], data.positive_examples),
        ):
            lines += ["", f"## {title}", ""]
            lines += [f"{i}. {_example_line(e, tz)}" for i, e in enumerate(examples, 1)] or [t["none"]]
    lines += ["", "---", ""]
    if data.freshness:
        lines += [
            f"{t['freshness']}: "
            + "; ".join(f"{s} {_local(at, tz)}" for s, at in sorted(data.freshness.items()))
        ]
    lines += [
        f"{t['model']}: {', '.join(data.model_versions) or '—'} · {t['generated'].format(at=_local(data.generated_at, tz))}",
        "",
    ]
    return "\n".join(lines)


_CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;max-width:760px;margin:24px auto;
padding:0 16px;color:#1f2328;line-height:1.5}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #d0d7de}
.muted{color:#656d76;font-size:13px}.headline{font-size:17px;font-weight:600;margin:16px 0}
table{border-collapse:collapse;width:100%}td,th{padding:4px 8px;border-bottom:1px solid #eaeef2;text-align:left}
.bar{display:flex;height:18px;border-radius:4px;overflow:hidden;margin:8px 0}
.negative{background:#cf222e}.neutral{background:#8c959f}.positive{background:#1a7f37}
li{margin-bottom:8px}
""".strip()


def render_html(data: DigestData, *, lang: str = "id", tz: str = "Asia/Jakarta") -> str:
    t = _t(lang)
    esc = html.escape
    p, pp = data.period, data.previous_period
    parts = [
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(t['title'])} {p.end.isoformat()}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(t['title'])} — {esc(t[p.kind])} {p.end.isoformat()}</h1>",
        f'<p class="muted">{esc(t["period"].format(start=p.start, end=p.end, pstart=pp.start, pend=pp.end))}</p>',
    ]
    if data.is_empty:
        parts.append(f"<p>{esc(t['empty'].format(prev=data.total.previous))}</p>")
    else:
        parts.append(f'<p class="headline">{esc(headline(data, t))}</p>')
        rows = [(t["total"], fmt_count(data.total, t)), (t["people"], fmt_count(data.authors, t))]
        rows += [(f"{t['by_source']}: {k}", fmt_count(v, t)) for k, v in data.by_source.items()]
        rows += [
            (f"{t['by_kind']}: {t['kinds'].get(k, k)}", fmt_count(v, t)) for k, v in data.by_kind.items()
        ]
        parts.append(f"<h2>{esc(t['volume'])}</h2><table>")
        parts += [f"<tr><th>{esc(a)}</th><td>{esc(b)}</td></tr>" for a, b in rows]
        parts.append("</table>")
        parts.append(f"<h2>{esc(t['sentiment'])}</h2>")
        parts.append(
            '<div class="bar" role="img" aria-label="sentiment">'
            + "".join(
                f'<div class="{s}" style="width:{100 * share.share:.1f}%" title="{esc(t[s])}"></div>'
                for s, share in data.sentiment.items()
            )
            + "</div><ul>"
        )
        parts += [f"<li>{esc(t[s])}: {esc(fmt_share(share, t))}</li>" for s, share in data.sentiment.items()]
        parts.append("</ul>")
        if data.unclassified:
            parts.append(f'<p class="muted">{esc(t["unclassified"].format(n=data.unclassified))}</p>')
        for title, examples in (
            (t["complaints"], data.negative_examples),
            (t["praise"], data.positive_examples),
        ):
            parts.append(f"<h2>{esc(title)}</h2>")
            if not examples:
                parts.append(f"<p>{esc(t['none'])}</p>")
                continue
            parts.append("<ol>")
            parts += [
                f'<li>{esc(" ".join(e.text.split()))}<br><span class="muted">{esc(e.source)}, '
                f"{esc(_local(e.created_at, tz))}</span></li>"
                for e in examples
            ]
            parts.append("</ol>")
    fresh = "; ".join(f"{s} {_local(at, tz)}" for s, at in sorted(data.freshness.items()))
    parts.append('<hr><p class="muted">')
    if fresh:
        parts.append(f"{esc(t['freshness'])}: {esc(fresh)}<br>")
    parts.append(
        f"{esc(t['model'])}: {esc(', '.join(data.model_versions) or '—')} · "
        f"{esc(t['generated'].format(at=_local(data.generated_at, tz)))}</p></body></html>"
    )
    return "\n".join(parts)
