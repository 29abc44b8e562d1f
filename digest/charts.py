"""Charts for the HTML digest and the e-mail, drawn with matplotlib's Agg canvas into PNG bytes.

>>> charts = make_charts(data, "id")        # {"sentiment": b"\\x89PNG…", "topics": b"\\x89PNG…"}

No pyplot: a ``Figure`` on its own canvas keeps no global state, so charts can be drawn from any thread (a
Prefect task, a test) and leak nothing between digests. PNGs carry no timestamp: the same data gives the same
bytes.
"""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from digest.build import DigestData
from digest.phrases import signed, texts

COLORS = {"negative": "#cf222e", "neutral": "#8c959f", "positive": "#1a7f37", "unclassified": "#d0d7de"}
PREVIOUS = "#f4b4b8"
WIDTH_IN, DPI = 6.4, 150  # 960 px wide: sharp when shown 600 px wide on a high-density screen
MAX_TOPICS = 8


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _style(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#d0d7de")
    ax.tick_params(colors="#57606a", labelsize=8)


def sentiment_chart(data: DigestData, lang: str) -> bytes | None:
    """Daily items by sentiment (stacked), the digest's period shaded."""
    days = data.daily
    if not days or not any(d.total for d in days):
        return None
    t = texts(lang)
    fig = Figure(figsize=(WIDTH_IN, 2.6), layout="constrained")
    ax = fig.add_subplot()
    xs = list(range(len(days)))
    bottom = [0] * len(days)
    for key in ("negative", "neutral", "positive", "unclassified"):
        values = [getattr(d, key) for d in days]
        if key == "unclassified" and not any(values):
            continue
        ax.bar(
            xs,
            values,
            bottom=bottom,
            color=COLORS[key],
            width=0.8,
            label=t["unclassified_label" if key == "unclassified" else key],
            linewidth=0,
        )
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    first = next(i for i, d in enumerate(days) if data.period.contains(d.day))
    ax.axvspan(first - 0.5, len(days) - 0.5, color="#ddf4ff", zorder=0, label=t["current"])
    step = 7 if len(days) > 14 else 1
    ticks = list(range(len(days) - 1, -1, -step))[::-1]
    ax.set_xticks(ticks, [days[i].day.strftime("%d/%m") for i in ticks])
    ax.set_xlim(-0.6, len(days) - 0.4)
    ax.set_title(t["chart_sentiment"], loc="left", fontsize=10, color="#1f2328")
    ax.legend(fontsize=7, frameon=False, ncols=5, loc="upper left", bbox_to_anchor=(0, -0.12))
    _style(ax)
    return _png(fig)


def topic_chart(data: DigestData, lang: str) -> bytes | None:
    """Complaints per topic this period against the previous one, the change written beside each bar."""
    topics = data.complaints_by_volume[:MAX_TOPICS]
    if not topics:
        return None
    t = texts(lang)
    topics = topics[::-1]  # barh draws bottom-up: the biggest on top
    fig = Figure(figsize=(WIDTH_IN, 0.36 * len(topics) + 0.9), layout="constrained")
    ax = fig.add_subplot()
    ys = list(range(len(topics)))
    cur = [x.negative.count for x in topics]
    prev = [x.negative.previous for x in topics]
    ax.barh([y - 0.2 for y in ys], prev, height=0.38, color=PREVIOUS, label=t["prev"])
    ax.barh([y + 0.2 for y in ys], cur, height=0.38, color=COLORS["negative"], label=t["current"])
    names = [data.topic_name(x.id, lang) for x in topics]
    ax.set_yticks(ys, [n if len(n) <= 34 else n[:33] + "…" for n in names])
    top = max(cur + prev) or 1
    for y, x in zip(ys, topics, strict=True):
        pct = x.negative.change_pct
        note = t["new"] if pct is None else f"{signed(pct)}%"
        ax.text(x.negative.count + top * 0.01, y + 0.2, note, va="center", fontsize=7, color="#57606a")
    ax.set_xlim(0, top * 1.15)
    ax.set_title(t["chart_topics"], loc="left", fontsize=10, color="#1f2328")
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    _style(ax)
    return _png(fig)


def make_charts(data: DigestData, lang: str) -> dict[str, bytes]:
    """The charts that have something to show, by name (the HTML's image ids)."""
    charts = {"sentiment": sentiment_chart(data, lang), "topics": topic_chart(data, lang)}
    return {name: png for name, png in charts.items() if png}
