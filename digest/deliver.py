"""Getting a digest to people: the file archive first, then Slack and e-mail, each retried and reported.

    paths = write_files(data, out_dir, "digest-2026-11-15", lang="id")   # Markdown, HTML, index.html
    results = deliver(data, paths, ["file", "slack", "email"], config)   # [Delivery(channel="slack", ok=True, …)]

The files are written (atomically) before any channel is tried, so a failing Slack or SMTP server never loses a
digest: the delivery is reported as failed and the file is still in the archive to send again. A channel that is
not configured fails at once with the setting to set; one that fails in transit is retried ``len(delays)`` times
with the delays written out (the ``sleep`` is injectable, tests pass a fake clock).
"""

from __future__ import annotations

import os
import re
import smtplib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from digest.build import DigestData
from digest.charts import make_charts
from digest.phrases import highlights, texts, title
from digest.render import render_html, render_index, render_markdown
from suara.errors import InputError, SuaraError

CHANNELS = ("file", "slack", "email")
RETRY_DELAYS = (2.0, 10.0)  # seconds before the 2nd and 3rd attempts
TIMEOUT = 30.0
DIGEST_FILE = re.compile(r"^digest-(\d{4}-\d{2}-\d{2})(-day)?\.html$")


class DeliveryError(SuaraError):
    """A channel refused or could not take a message (Slack answered non-200, the SMTP server is down)."""


@dataclass(frozen=True)
class DeliveryConfig:
    """Where messages go. ``from_settings`` reads the ``SUARA_SLACK_*``, ``SUARA_SMTP_*`` settings."""

    slack_webhook_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str | None = None
    smtp_to: tuple[str, ...] = ()
    smtp_starttls: bool = True
    base_url: str | None = None  # where the archive is served: links in Slack and e-mail point there
    timeout: float = TIMEOUT

    @classmethod
    def from_settings(cls, settings: Any) -> DeliveryConfig:
        def get(name: str, default: Any = None) -> Any:
            value = getattr(settings, name, default)
            return value.get_secret_value() if hasattr(value, "get_secret_value") else value

        to = get("smtp_to") or ()
        if isinstance(to, str):
            to = [a.strip() for a in to.split(",")]
        return cls(
            slack_webhook_url=get("slack_webhook_url") or None,
            smtp_host=get("smtp_host") or None,
            smtp_port=int(get("smtp_port", 587) or 587),
            smtp_user=get("smtp_user") or None,
            smtp_password=get("smtp_password") or None,
            smtp_from=get("smtp_from") or None,
            smtp_to=tuple(a for a in to if a),
            smtp_starttls=bool(get("smtp_starttls", True)),
            base_url=get("digest_base_url") or None,
        )


@dataclass
class Delivery:
    """What happened on one channel; ``str()`` is the line a user sees."""

    channel: str
    ok: bool
    attempts: int
    detail: str  # where it went, or the last error

    def __str__(self) -> str:
        if self.ok:
            return f"{self.channel}: {self.detail}"
        tries = f" after {self.attempts} attempt{'s' if self.attempts != 1 else ''}" if self.attempts else ""
        return f"{self.channel}: FAILED{tries}: {self.detail}"


@dataclass
class DigestPaths:
    markdown: Path
    html: Path
    index: Path
    charts: dict[str, bytes] = field(default_factory=dict, repr=False)


def parse_channels(spec: str | Sequence[str]) -> list[str]:
    """``"file,slack"`` → ``["file", "slack"]``; an unknown channel is an ``InputError`` naming the choices."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for item in (i.strip().lower() for i in items):
        if not item:
            continue
        if item not in CHANNELS:
            raise InputError(
                f"--to {item!r} is not a channel; use a comma-separated list of {', '.join(CHANNELS)}"
            )
        if item not in out:
            out.append(item)
    return out or ["file"]


# -- the file archive -------------------------------------------------------------------------------------------
def write_atomic(path: Path, text: str) -> None:
    """Write whole or not at all: a reader (the web server, a mail job) never sees half a digest."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_files(data: DigestData, out_dir: Path | str, stem: str, *, lang: str = "id") -> DigestPaths:
    """``<stem>.md`` and ``<stem>.html`` (charts embedded) in ``out_dir``, and the refreshed ``index.html``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    charts = make_charts(data, lang)
    md, page = out / f"{stem}.md", out / f"{stem}.html"
    write_atomic(md, render_markdown(data, lang=lang))
    write_atomic(page, render_html(data, lang=lang, charts=charts))
    return DigestPaths(md, page, write_index(out, lang=lang), charts)


_DESCRIPTION = re.compile(r'<meta name="description" content="([^"]*)">')
_TITLE = re.compile(r"<title>([^<]*)</title>")


def write_index(out_dir: Path | str, *, lang: str = "id") -> Path:
    """``index.html``: every ``digest-*.html`` in ``out_dir``, newest first, with its title and headline."""
    import html

    out = Path(out_dir)
    entries = []
    for path in out.iterdir():
        m = DIGEST_FILE.match(path.name)
        if not m:
            continue
        head = path.read_text(encoding="utf-8", errors="replace")[:4000]
        name = _TITLE.search(head)
        summary = _DESCRIPTION.search(head)
        entries.append(
            (
                (
                    m.group(1),
                    m.group(2) is None,
                ),  # newest day first; the week before the day of the same date
                path.name,
                html.unescape(name.group(1)) if name else path.stem,
                html.unescape(summary.group(1)) if summary else "",
            )
        )
    entries.sort(reverse=True)
    index = out / "index.html"
    write_atomic(
        index, render_index([(href, name, summary) for _, href, name, summary in entries], lang=lang)
    )
    return index


def link_to(path: Path, config: DeliveryConfig) -> str:
    """The digest's address for readers: under ``SUARA_DIGEST_BASE_URL`` when set, else the file's path."""
    if config.base_url:
        return f"{config.base_url.rstrip('/')}/{path.name}"
    return str(path.resolve())


# -- retries ----------------------------------------------------------------------------------------------------
def with_retries(
    channel: str,
    send: Callable[[], str],
    *,
    delays: Sequence[float] = RETRY_DELAYS,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """Call ``send`` until it returns (its return value is the detail), at most ``len(delays) + 1`` times."""
    attempts = 0
    while True:
        attempts += 1
        try:
            return Delivery(channel, True, attempts, send())
        except (OSError, smtplib.SMTPException, DeliveryError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            if attempts > len(delays):
                return Delivery(channel, False, attempts, error)
            sleep(delays[attempts - 1])


# -- Slack ------------------------------------------------------------------------------------------------------
def slack_payload(text_lines: Sequence[str], heading: str, link: str | None, lang: str) -> dict[str, Any]:
    """A short message: the heading, a few lines, the link. ``text`` is the notification's fallback."""
    t = texts(lang)
    body = "\n".join(f"• {line}" for line in text_lines)
    more = f"\n<{link}|{t['read_more']}>" if link and "://" in link else (f"\n{link}" if link else "")
    return {
        "text": f"{heading}\n{body}{more}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": heading[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": (body + more)[:3000]}},
        ],
    }


def digest_slack_payload(data: DigestData, link: str | None, lang: str) -> dict[str, Any]:
    return slack_payload(highlights(data, lang, limit=4), title(data, lang), link, lang)


def send_slack(url: str, payload: Mapping[str, Any], *, timeout: float = TIMEOUT) -> str:
    """POST to an incoming webhook with ``slack_sdk``; anything but 200 "ok" is a ``DeliveryError``."""
    from slack_sdk.webhook import WebhookClient

    # retry_handlers=[]: slack_sdk would otherwise retry (and sleep) on its own; the retries here are ours.
    client = WebhookClient(url, timeout=int(timeout), retry_handlers=[])
    response = client.send(text=payload["text"], blocks=payload.get("blocks"))
    if response.status_code != 200:
        raise DeliveryError(f"Slack answered {response.status_code}: {response.body[:200]}")
    return "sent to the webhook"


# -- e-mail -----------------------------------------------------------------------------------------------------
def email_message(
    *,
    subject: str,
    sender: str,
    to: Sequence[str],
    text: str,
    html: str | None = None,
    images: Mapping[str, bytes] | None = None,
) -> EmailMessage:
    """multipart/alternative: the plain text first, then the HTML with its images as related ``cid:`` parts."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="suara.local")
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
        html_part = msg.get_payload()[1]
        for name, png in (images or {}).items():
            html_part.add_related(
                png, maintype="image", subtype="png", cid=f"<{name}>", filename=f"{name}.png"
            )
    return msg


def digest_email(
    data: DigestData,
    config: DeliveryConfig,
    link: str | None,
    lang: str,
    charts: Mapping[str, bytes] | None = None,
) -> EmailMessage:
    charts = make_charts(data, lang) if charts is None else charts
    text = render_markdown(data, lang=lang)
    if link:
        text += f"\n{texts(lang)['read_more']}: {link}\n"
    return email_message(
        subject=f"{title(data, lang)}: {highlights(data, lang)[0]}",
        sender=config.smtp_from or "",
        to=config.smtp_to,
        text=text,
        html=render_html(data, lang=lang, charts=charts, image_src=lambda name, _png: f"cid:{name}"),
        images=charts,
    )


def send_email(config: DeliveryConfig, msg: EmailMessage) -> str:
    with smtplib.SMTP(config.smtp_host or "", config.smtp_port, timeout=config.timeout) as smtp:
        smtp.ehlo()
        if config.smtp_starttls:
            smtp.starttls()
            smtp.ehlo()
        if config.smtp_user:
            smtp.login(config.smtp_user, config.smtp_password or "")
        refused = smtp.send_message(msg)
    if refused:
        raise DeliveryError(f"the server refused {len(refused)} recipient(s)")
    return f"sent to {len(config.smtp_to)} recipient(s)"


def missing_settings(channel: str, config: DeliveryConfig) -> str | None:
    """The settings a channel still needs, as the message to show; None when it is configured."""
    if channel == "slack" and not config.slack_webhook_url:
        return "SUARA_SLACK_WEBHOOK_URL is not set; put it in the environment or in .env"
    if channel == "email":
        unset = [
            name
            for name, value in (
                ("SUARA_SMTP_HOST", config.smtp_host),
                ("SUARA_SMTP_FROM", config.smtp_from),
                ("SUARA_SMTP_TO", config.smtp_to),
            )
            if not value
        ]
        if unset:
            return f"{', '.join(unset)} {'is' if len(unset) == 1 else 'are'} not set; put them in the environment or in .env"
    return None


def send_all(
    channels: Sequence[str],
    senders: Mapping[str, Callable[[], str]],
    config: DeliveryConfig,
    *,
    delays: Sequence[float] = RETRY_DELAYS,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Delivery]:
    """Each channel in turn; one failing does not stop the others."""
    results = []
    for channel in channels:
        problem = missing_settings(channel, config)
        if problem:
            results.append(Delivery(channel, False, 0, problem))
        else:
            results.append(with_retries(channel, senders[channel], delays=delays, sleep=sleep))
    return results


def deliver(
    data: DigestData,
    paths: DigestPaths,
    channels: Sequence[str],
    config: DeliveryConfig,
    *,
    lang: str = "id",
    delays: Sequence[float] = RETRY_DELAYS,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Delivery]:
    """Send an already written digest to ``channels`` ("file" reports where the archive copy is)."""
    link = link_to(paths.html, config)
    senders: dict[str, Callable[[], str]] = {
        "file": lambda: f"{paths.markdown} and {paths.html}",
        "slack": lambda: send_slack(
            config.slack_webhook_url or "", digest_slack_payload(data, link, lang), timeout=config.timeout
        ),
        "email": lambda: send_email(config, digest_email(data, config, link, lang, paths.charts or None)),
    }
    return send_all(channels, senders, config, delays=delays, sleep=sleep)
