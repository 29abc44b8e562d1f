"""What helpdesk collectors share: checking a ticket's id and time, and building ticket and reply records.

Zendesk and Freshdesk differ in how they page, where the requester is and what a reply is called (comment,
conversation); the records they produce, and the reasons they quarantine one, are the same.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from collectors._http import parse_time
from collectors.base import CollectedItem, Rejected


def text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def ticket_head(source: str, ticket: Any, entry: str) -> tuple[str, datetime] | Rejected:
    """(ticket id, created time), or the quarantine record saying which of them is missing.

    ``entry`` names what the API calls a list element ("export entry", "ticket list entry").
    """
    if not isinstance(ticket, Mapping):
        return Rejected(source, f"{entry} is a {type(ticket).__name__}, not a ticket", dump(ticket))
    tid = ticket.get("id")
    if not isinstance(tid, int | str) or isinstance(tid, bool) or str(tid).strip() == "":
        return Rejected(source, "ticket without an id", dump(ticket))
    tid = str(tid)
    created = parse_time(ticket.get("created_at"))
    if created is None:
        return Rejected(source, f"ticket {tid}: no readable created_at", dump(ticket), source_ref=tid)
    return tid, created


def ticket_record(
    source: str,
    ticket: Mapping[str, Any],
    tid: str,
    *,
    subject: str,
    description: str,
    created: datetime,
    author: str | None,
    author_name: str | None,
    url: str,
    meta: dict[str, Any],
    missing: str,
) -> CollectedItem | Rejected:
    """The ticket as an item (subject and description), or quarantined with ``ticket {id}: {missing}``."""
    body = "\n\n".join(p for p in (subject, description) if p)
    if not body:
        return Rejected(source, f"ticket {tid}: {missing}", dump(ticket), tid)
    return CollectedItem(
        source=source,
        source_id=tid,
        kind="ticket",
        text=body,
        created_at=created,
        author=author,
        author_name=author_name,
        url=url,
        thread_id=tid,
        meta=meta,
        raw=dict(ticket),
    )


def reply_record(
    source: str,
    tid: str,
    *,
    noun: str,
    reply_id: Any,
    created_at: Any,
    body: str,
    author: str | None,
    author_name: str | None,
    url: str,
    meta: dict[str, Any],
    raw: Mapping[str, Any],
) -> CollectedItem | Rejected:
    """A requester's reply as its own item (``{tid}-c{id}``, threaded under the ticket), or quarantined."""
    ref = f"{tid}-c{reply_id}"
    if reply_id is None:
        return Rejected(source, f"ticket {tid}: {noun} without an id", dump(raw), tid)
    created = parse_time(created_at)
    if created is None:
        return Rejected(source, f"{noun} {ref}: no readable created_at", dump(raw), ref)
    if not body:
        return Rejected(source, f"{noun} {ref}: no text", dump(raw), ref)
    return CollectedItem(
        source=source,
        source_id=ref,
        kind="reply",
        text=body,
        created_at=created,
        author=author,
        author_name=author_name,
        url=url,
        thread_id=tid,
        parent_id=tid,
        meta=meta,
        raw=dict(raw),
    )
