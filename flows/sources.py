"""Collectors built from the settings, with secrets read at run time (``flows.secret_blocks``).

The same mapping of settings to constructor arguments as ``suara collect …``; called inside tasks, so a
token is read when a run needs it and never travels as a parameter.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from flows.secret_blocks import require_secret, secret
from storage import db
from suara.config import get_settings
from suara.errors import InputError


def x_queries(queries: list[str] | None) -> list[str]:
    found = [q for q in (queries or get_settings().x_queries) if q and q.strip()]
    if not found:
        raise InputError("no X query: pass queries or set SUARA_X_QUERIES (a JSON list)")
    return list(dict.fromkeys(q.strip() for q in found))


def x_month_used(engine: Engine) -> int:
    """Posts read this month by every X query together (kept in the checkpoints' metadata)."""
    month = datetime.now(UTC).strftime("%Y-%m")
    with engine.connect() as conn:
        saved = db.checkpoints_like(conn, "x:search:")
    return max((m.get("month_used", 0) for _, m in saved.values() if m.get("month") == month), default=0)


def x_collector(engine: Engine, query: str, max_posts: int | None = None):
    from collectors.x import x_collectors

    s = get_settings()
    (collector,) = x_collectors(
        require_secret("x_bearer_token"),
        [query],
        api_base=s.x_api_base,
        max_posts_per_run=max_posts or s.x_max_posts_per_run,
        month_budget=s.x_month_budget,
        month_used=x_month_used(engine),
        max_wait_seconds=s.x_max_wait_seconds,
        timeout=s.x_timeout,
    )
    return collector


def zendesk_collector(max_pages: int | None = None, comments: bool = True):
    from collectors.zendesk import ZendeskCollector

    s = get_settings()
    return ZendeskCollector(
        s.require("zendesk_base_url"),
        email=s.zendesk_email,
        token=secret("zendesk_token"),
        oauth_token=secret("zendesk_oauth_token"),
        lookback_days=s.zendesk_lookback_days,
        max_pages=max_pages,
        fetch_comments=comments,
        max_rate_wait=s.helpdesk_max_rate_wait,
    )


def freshdesk_collector(max_pages: int | None = None, conversations: bool = True):
    from collectors.freshdesk import FreshdeskCollector

    s = get_settings()
    return FreshdeskCollector(
        s.require("freshdesk_base_url"),
        api_key=require_secret("freshdesk_api_key"),
        lookback_days=s.freshdesk_lookback_days,
        max_pages=max_pages,
        fetch_conversations=conversations,
        max_rate_wait=s.helpdesk_max_rate_wait,
    )


def imap_collector(folder: str | None = None):
    from collectors.imap import ImapCollector

    s = get_settings()
    return ImapCollector(
        s.require("imap_host"),
        s.imap_port,
        s.require("imap_username"),
        require_secret("imap_password"),
        folder=folder or s.imap_folder,
        ssl=s.imap_ssl,
        batch_size=s.imap_batch_size,
        timeout=s.imap_timeout,
    )
