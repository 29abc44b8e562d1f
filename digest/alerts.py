"""Spike alerts: a short message of their own, sent through the same channels as the digest.

    data = build_digest(day_rows, previous, period=Period.ending("day", day), history=..., ...)
    deliver_alert(data, ["file", "slack"], config, out_dir="out")   # [] when the day had no spike

The spikes themselves come from ``digest.spikes`` (minimum count, z-score against a trailing baseline,
cooldown), so a daily run can call this every day and stays silent on ordinary days.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from digest.build import DigestData
from digest.deliver import (
    RETRY_DELAYS,
    Delivery,
    DeliveryConfig,
    email_message,
    send_all,
    send_email,
    send_slack,
    slack_payload,
    write_atomic,
)
from digest.phrases import spike_sentence, texts


def alert_heading(data: DigestData, lang: str) -> str:
    return f"{texts(lang)['alert_title']} — {data.period.end.isoformat()}"


def alert_lines(data: DigestData, lang: str) -> list[str]:
    return [spike_sentence(s, data, lang) for s in data.spikes]


def alert_markdown(data: DigestData, lang: str) -> str:
    return "\n".join([f"# {alert_heading(data, lang)}", "", *(f"- {s}" for s in alert_lines(data, lang)), ""])


def alert_html(data: DigestData, lang: str) -> str:
    items = "".join(f'<li style="margin:0 0 6px 0">{html.escape(s)}</li>' for s in alert_lines(data, lang))
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>'
        f"{html.escape(alert_heading(data, lang))}</title></head><body>"
        '<div style="font-family:Helvetica,Arial,sans-serif;font-size:15px;line-height:1.5;color:#1f2328;'
        'max-width:600px;padding:12px;border-left:4px solid #cf222e">'
        f'<h1 style="font-size:18px;margin:0 0 8px 0">{html.escape(alert_heading(data, lang))}</h1>'
        f'<ul style="margin:0;padding-left:18px">{items}</ul></div></body></html>'
    )


def alert_filename(data: DigestData) -> str:
    return f"alert-{data.period.end.isoformat()}.md"


def deliver_alert(
    data: DigestData,
    channels: Sequence[str],
    config: DeliveryConfig,
    *,
    out_dir: Path | str,
    lang: str = "id",
    delays: Sequence[float] = RETRY_DELAYS,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Delivery]:
    """Send the spikes of ``data`` (nothing when there are none); the alert file is written first, always."""
    if not data.spikes:
        return []
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / alert_filename(data)
    write_atomic(path, alert_markdown(data, lang))
    heading, lines = alert_heading(data, lang), alert_lines(data, lang)
    link = f"{config.base_url.rstrip('/')}/index.html" if config.base_url else None
    senders = {
        "file": lambda: str(path),
        "slack": lambda: send_slack(
            config.slack_webhook_url or "", slack_payload(lines, heading, link, lang), timeout=config.timeout
        ),
        "email": lambda: send_email(
            config,
            email_message(
                subject=f"{heading}: {lines[0]}",
                sender=config.smtp_from or "",
                to=config.smtp_to,
                text=alert_markdown(data, lang),
                html=alert_html(data, lang),
            ),
        ),
    }
    return send_all(channels, senders, config, delays=delays, sleep=sleep)
