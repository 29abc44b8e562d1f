"""Zendesk tickets through the cursor-based incremental export, with each ticket's public customer comments.

    GET {base}/api/v2/incremental/tickets/cursor.json?start_time=<epoch>   first run
    GET {base}/api/v2/incremental/tickets/cursor.json?cursor=<after_cursor> every later page and run
    GET {base}/api/v2/tickets/{id}/comments.json                           per ticket (``next_page`` pages)

A ticket becomes one item (kind ``ticket``: subject + description, e.g. "Dana insentif belum diterima\\n\\nKak
insentif saya belum cair…"); each later *public* comment by the requester becomes a ``reply`` in the ticket's
thread (``source_id`` "48114-c1004"). Agent comments are skipped: Suara stores what customers say, the digest
counts every stored item as customer voice, and the agent side is already summarised by ``first_response_at``
and ``solved_at``. Private (internal) notes are never stored. A ticket exported again after a change (status,
tags, priority, satisfaction) updates its row; the (source, source_id) upsert never duplicates it.

The checkpoint is the export's ``after_cursor``, saved with each page once that page is stored.

>>> z = ZendeskCollector("https://kartucakap.zendesk.com", email="cs@kartucakap.go.id", token="…")
>>> run_collector(engine, z)  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from collectors._http import HttpApi, next_params, parse_time
from collectors._tickets import reply_record, ticket_head, ticket_record
from collectors._tickets import text as _text
from collectors.base import Page, Record, Rejected
from collectors.errors import CollectorError, SourceNotFound
from suara.errors import ConfigError

EXPORT_PATH = "/api/v2/incremental/tickets/cursor.json"
COMMENTS_PATH = "/api/v2/tickets/{id}/comments.json"
MAX_COMMENT_PAGES = 50  # 100 comments a page: a 5,000-comment ticket is a dump, not a conversation
SOURCE = "zendesk"


@dataclass
class ZendeskCollector:
    """Reads tickets changed since the saved cursor (or since ``start_time`` on the first run).

    Authentication: ``email`` + ``token`` (API token, sent as ``email/token:TOKEN`` basic auth) or
    ``oauth_token`` (bearer). ``start_time`` is a datetime or epoch seconds (0 = the whole history); when None
    the first run starts ``lookback_days`` before now. ``sideload`` asks the export for ``users`` (requester
    e-mail → author) and ``metric_sets`` (first_response_at, solved_at). ``max_pages`` caps one run (the rest
    follows on the next run, from the saved cursor).
    """

    base_url: str
    email: str | None = None
    token: str | None = None
    oauth_token: str | None = None
    start_time: datetime | int | None = None
    lookback_days: int = 30
    per_page: int = 100
    sideload: tuple[str, ...] = ("users", "metric_sets")
    fetch_comments: bool = True
    max_pages: int | None = None
    checkpoint_name: str = "zendesk:tickets"
    timeout: float = 30.0
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    max_retries: int = 3
    max_rate_wait: float = 600.0
    source: str = SOURCE
    _api: HttpApi = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.oauth_token:
            auth: tuple[str, str] | None = None
            headers = {"Authorization": f"Bearer {self.oauth_token}"}
            auth_setting = "SUARA_ZENDESK_OAUTH_TOKEN"
        elif self.email and self.token:
            auth, headers = (f"{self.email}/token", self.token), {}
            auth_setting = "SUARA_ZENDESK_TOKEN (with SUARA_ZENDESK_EMAIL)"
        else:
            missing = "SUARA_ZENDESK_EMAIL" if self.token else "SUARA_ZENDESK_TOKEN"
            raise ConfigError(
                f"{missing} is not set; Zendesk needs SUARA_ZENDESK_EMAIL and SUARA_ZENDESK_TOKEN (an API token) "
                "or SUARA_ZENDESK_OAUTH_TOKEN"
            )
        if not 1 <= self.per_page <= 1000:
            raise ConfigError(f"per_page {self.per_page} is out of range; Zendesk's export allows 1–1000")
        self._api = HttpApi(
            self.base_url,
            label="Zendesk",
            auth=auth,
            headers=headers,
            auth_setting=auth_setting,
            base_url_setting="SUARA_ZENDESK_BASE_URL",
            timeout=self.timeout,
            transport=self.transport,
            sleep=self.sleep,
            now=self.now,
            max_retries=self.max_retries,
            max_rate_wait=self.max_rate_wait,
        )

    # -- paging ------------------------------------------------------------------------------------------------
    def start_epoch(self) -> int:
        """The first run's ``start_time``: Zendesk wants epoch seconds at least a minute in the past."""
        if isinstance(self.start_time, datetime):
            when = self.start_time if self.start_time.tzinfo else self.start_time.replace(tzinfo=UTC)
            return int(when.timestamp())
        if isinstance(self.start_time, int):
            return self.start_time
        return int((self.now() - timedelta(days=self.lookback_days)).timestamp())

    def pages(self, cursor: str | None) -> Iterator[Page]:
        """Export pages from ``cursor`` (None: from ``start_time``) until ``end_of_stream``."""
        base: dict[str, Any] = {"per_page": self.per_page, "include": ",".join(self.sideload) or None}
        with self._api:
            seen: set[str] = {cursor} if cursor else set()
            current = cursor
            read = 0
            while True:
                params = (
                    {**base, "cursor": current} if current else {**base, "start_time": self.start_epoch()}
                )
                data = self._api.get_json(EXPORT_PATH, params).data
                tickets, after, end = _export_page(data)
                read += 1
                records, meta = self._records(tickets, data)
                meta.update(after_cursor=after, end_of_stream=end)
                done = end or not after
                if not after and not end:
                    meta["notes"].append(
                        "Zendesk sent no after_cursor before the end of the stream; stopped here"
                    )
                elif not done and after in seen:
                    raise CollectorError(f"Zendesk repeats the cursor {after!r}; stopping instead of looping")
                elif not done and self.max_pages is not None and read >= self.max_pages:
                    meta["notes"].append(
                        f"stopped after {read} export pages (max_pages); the next run continues"
                    )
                    done = True
                if records or (after and after != current):
                    yield Page(records, checkpoint=after, meta=meta)
                if done:
                    return
                seen.add(after)
                current = after

    def _records(self, tickets: list[Any], data: Mapping[str, Any]) -> tuple[list[Record], dict[str, Any]]:
        """The records of one export page and the page's metadata (counts, notes; no personal data)."""
        users = _by_key(data.get("users"), "id")
        metrics = _by_key(data.get("metric_sets"), "ticket_id")
        records: list[Record] = []
        skipped: Counter[str] = Counter()
        notes: list[str] = []
        updated: list[datetime] = []
        for ticket in tickets:
            records.extend(self._ticket_records(ticket, users, metrics, skipped, notes))
            if isinstance(ticket, Mapping) and (u := parse_time(ticket.get("updated_at"))):
                updated.append(u)
        meta: dict[str, Any] = {"tickets": len(tickets), "skipped": dict(skipped), "notes": notes}
        if updated:
            meta["last_updated_at"] = max(updated).isoformat()
        return records, meta

    # -- records -----------------------------------------------------------------------------------------------
    def _ticket_records(
        self,
        ticket: Any,
        users: Mapping[Any, Mapping[str, Any]],
        metrics: Mapping[Any, Mapping[str, Any]],
        skipped: Counter[str],
        notes: list[str],
    ) -> list[Record]:
        head = ticket_head(SOURCE, ticket, "export entry")
        if isinstance(head, Rejected):
            return [head]
        tid, created = head

        requester_id = ticket.get("requester_id")
        requester = users.get(requester_id) or {}
        author = requester.get("email") or (
            f"zendesk-user:{requester_id}" if requester_id is not None else None
        )
        author_name = requester.get("name") or None

        comments: list[Mapping[str, Any]] = []
        if self.fetch_comments and ticket.get("status") != "deleted":
            try:
                comments = self._comments(tid)
            except SourceNotFound:
                notes.append(
                    f"ticket {tid}: comments not found (404; deleted meanwhile?); stored without replies"
                )
        comments = sorted(
            (c for c in comments if isinstance(c, Mapping)),
            key=lambda c: (parse_time(c.get("created_at")) or created, _int(c.get("id"))),
        )

        records: list[Record] = [
            ticket_record(
                SOURCE,
                ticket,
                tid,
                subject=_text(ticket.get("subject")) or _text(ticket.get("raw_subject")),
                description=_text(ticket.get("description"))
                or (_comment_text(comments[0]) if comments else ""),
                created=created,
                author=author,
                author_name=author_name,
                url=self._url(tid),
                meta=_ticket_meta(ticket, metrics.get(ticket.get("id")), created),
                missing="no subject, description or comment text",
            )
        ]

        for comment in comments[1:]:  # the first comment is the ticket's description
            if not comment.get("public", False):
                skipped["private_notes"] += 1
                continue
            if requester_id is None or comment.get("author_id") != requester_id:
                skipped["not_by_requester"] += 1  # agents (and CC'd users)
                continue
            records.append(self._reply(tid, comment, author, author_name))
        return records

    def _reply(
        self, tid: str, comment: Mapping[str, Any], author: str | None, author_name: str | None
    ) -> Record:
        via = comment.get("via")
        channel = via.get("channel") if isinstance(via, Mapping) else None
        return reply_record(
            SOURCE,
            tid,
            noun="comment",
            reply_id=comment.get("id"),
            created_at=comment.get("created_at"),
            body=_comment_text(comment),
            author=author,
            author_name=author_name,
            url=self._url(tid),
            meta={"author_role": "requester", **({"via_channel": channel} if channel else {})},
            raw=_comment_raw(comment),
        )

    def _comments(self, tid: str) -> list[Mapping[str, Any]]:
        """All comments of a ticket, following ``next_page`` on the configured base URL."""
        path = COMMENTS_PATH.format(id=tid)
        params: dict[str, Any] = {"per_page": 100}
        out: list[Mapping[str, Any]] = []
        seen: set[tuple[tuple[str, str], ...]] = set()
        for _ in range(MAX_COMMENT_PAGES):
            data = self._api.get_json(path, params).data
            if not isinstance(data, Mapping) or not isinstance(data.get("comments"), list):
                raise CollectorError(f"Zendesk: {path} did not return a 'comments' list; nothing stored")
            out.extend(data["comments"])
            following = next_params(data.get("next_page"))
            if not following:
                return out
            key = tuple(sorted(following.items()))
            if key in seen:
                raise CollectorError(
                    f"Zendesk: {path} repeats next_page {following}; stopping instead of looping"
                )
            seen.add(key)
            params = following
        raise CollectorError(f"Zendesk: ticket {tid} has more than {MAX_COMMENT_PAGES} pages of comments")

    def _url(self, tid: str) -> str:
        return f"{self._api.base_url}/agent/tickets/{tid}"


# -- helpers ---------------------------------------------------------------------------------------------------
def _export_page(data: Any) -> tuple[list[Any], str | None, bool]:
    if not isinstance(data, Mapping) or not isinstance(data.get("tickets"), list):
        keys = sorted(data)[:8] if isinstance(data, Mapping) else type(data).__name__
        raise CollectorError(
            f"Zendesk export page has no 'tickets' list (got {keys}); nothing from this page was stored"
        )
    after = data.get("after_cursor")
    return data["tickets"], (str(after) if after else None), bool(data.get("end_of_stream"))


def _ticket_meta(ticket: Mapping[str, Any], metric: Mapping[str, Any] | None, created: datetime) -> dict:
    via = ticket.get("via")
    rating = ticket.get("satisfaction_rating")
    meta: dict[str, Any] = {
        "subject": ticket.get("subject"),
        "status": ticket.get("status"),
        "priority": ticket.get("priority"),
        "type": ticket.get("type"),
        "tags": list(ticket.get("tags") or []),
        "via_channel": via.get("channel") if isinstance(via, Mapping) else None,
        "updated_at": ticket.get("updated_at"),
    }
    if isinstance(rating, Mapping):
        meta["satisfaction"] = rating.get("score")
        if rating.get("comment"):
            meta["satisfaction_comment"] = rating.get("comment")
    if isinstance(metric, Mapping):
        reply = _calendar_minutes(metric.get("reply_time_in_minutes"))
        meta["first_response_at"] = (
            (created + timedelta(minutes=reply)).isoformat() if reply is not None else None
        )
        solved = parse_time(metric.get("solved_at"))
        meta["solved_at"] = solved.isoformat() if solved else None
        meta["metrics"] = {
            "reply_time_minutes": reply,
            "full_resolution_minutes": _calendar_minutes(metric.get("full_resolution_time_in_minutes")),
            "reopens": metric.get("reopens"),
            "replies": metric.get("replies"),
        }
    return {k: v for k, v in meta.items() if v is not None or k in ("first_response_at", "solved_at")}


def _calendar_minutes(value: Any) -> int | None:
    if isinstance(value, Mapping):
        value = value.get("calendar")
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _comment_text(comment: Mapping[str, Any]) -> str:
    return _text(comment.get("plain_body")) or _text(comment.get("body"))


def _comment_raw(comment: Mapping[str, Any]) -> dict[str, Any]:
    """The comment as Zendesk sent it, minus ``metadata.system`` (the writer's IP address and geolocation)."""
    raw = dict(comment)
    metadata = raw.get("metadata")
    if isinstance(metadata, Mapping) and "system" in metadata:
        raw["metadata"] = {k: v for k, v in metadata.items() if k != "system"}
    return raw


def _by_key(rows: Any, key: str) -> dict[Any, Mapping[str, Any]]:
    if not isinstance(rows, list):
        return {}
    return {r[key]: r for r in rows if isinstance(r, Mapping) and key in r}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
