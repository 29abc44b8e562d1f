"""Freshdesk tickets changed since a time, oldest change first, with each ticket's incoming conversations.

    GET {base}/api/v2/tickets?updated_since=<ISO>&order_by=updated_at&order_type=asc&per_page=100&page=N
        &include=requester,description,stats
    GET {base}/api/v2/tickets/{id}/conversations?per_page=100&page=N

A ticket becomes one item (kind ``ticket``: subject + description, e.g. "Sertifikat tidak muncul\\n\\nSetelah
update aplikasi 3.2 sertifikat saya hilang…"); each incoming public conversation (the customer writing back)
becomes a ``reply`` in the ticket's thread (``source_id`` "7301-c5001"). Outgoing agent replies and public agent
notes are skipped, as for Zendesk (Suara stores what customers say; the agent side is summarised by
``first_response_at``/``solved_at``); private notes are never stored. Status and priority codes become names in
the item's metadata (status 2 → "open", 4 → "resolved").

Checkpoint: the newest ``updated_at`` of a fully stored page (ISO string). ``updated_since`` is inclusive, so the
boundary ticket is read again on the next page or run; the upsert makes that harmless (and within a run it is
not fetched twice). Freshdesk refuses ``page`` > 300 (30,000 results): instead of deep page numbers the collector
moves ``updated_since`` to the newest ``updated_at`` of each page and asks for page 1 again (keyset paging); a
page number only grows while a whole page shares one ``updated_at``. Keyset paging also avoids the skips that
page offsets suffer when tickets change while the run reads.

>>> f = FreshdeskCollector("https://kartucakap.freshdesk.com", api_key="…")
>>> run_collector(engine, f)  # doctest: +SKIP
"""

from __future__ import annotations

import html
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import Any

import httpx

from collectors._http import HttpApi, iso_z, parse_time
from collectors._tickets import dump as _dump
from collectors._tickets import reply_record, ticket_head, ticket_record
from collectors._tickets import text as _text
from collectors.base import Page, Record, Rejected
from collectors.errors import CollectorError, SourceNotFound
from suara.errors import ConfigError

TICKETS_PATH = "/api/v2/tickets"
CONVERSATIONS_PATH = "/api/v2/tickets/{id}/conversations"
PAGE_LIMIT = 300  # Freshdesk answers 400 for page > 300
MAX_CONVERSATION_PAGES = 50
SOURCE = "freshdesk"

STATUS_NAMES = {2: "open", 3: "pending", 4: "resolved", 5: "closed"}
PRIORITY_NAMES = {1: "low", 2: "medium", 3: "high", 4: "urgent"}
SOURCE_NAMES = {
    1: "email",
    2: "portal",
    3: "phone",
    5: "twitter",
    6: "facebook",
    7: "chat",
    8: "mobihelp",
    9: "feedback_widget",
    10: "outbound_email",
    11: "ecommerce",
    12: "bot",
    13: "whatsapp",
}


@dataclass
class FreshdeskCollector:
    """Reads tickets updated since the saved checkpoint (or since ``updated_since`` on the first run).

    ``api_key`` is sent as the basic-auth user name with the password "X". When ``updated_since`` is None the
    first run starts ``lookback_days`` before now. ``include`` embeds the requester (e-mail → author), the
    description (the ticket's text) and stats (first_response_at, solved_at); each embed costs API credits.
    ``max_pages`` caps one run; the next run continues from the saved checkpoint.
    """

    base_url: str
    api_key: str | None = None
    updated_since: datetime | None = None
    lookback_days: int = 30
    per_page: int = 100
    include: tuple[str, ...] = ("requester", "description", "stats")
    fetch_conversations: bool = True
    max_pages: int | None = None
    page_limit: int = PAGE_LIMIT
    checkpoint_name: str = "freshdesk:tickets"
    timeout: float = 30.0
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    max_retries: int = 3
    max_rate_wait: float = 600.0
    source: str = SOURCE
    _api: HttpApi = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.api_key:
            raise ConfigError(
                "SUARA_FRESHDESK_API_KEY is not set; copy the API key from your Freshdesk profile"
            )
        if not 1 <= self.per_page <= 100:
            raise ConfigError(f"per_page {self.per_page} is out of range; Freshdesk allows 1–100")
        self._api = HttpApi(
            self.base_url,
            label="Freshdesk",
            auth=(self.api_key, "X"),
            auth_setting="SUARA_FRESHDESK_API_KEY",
            base_url_setting="SUARA_FRESHDESK_BASE_URL",
            timeout=self.timeout,
            transport=self.transport,
            sleep=self.sleep,
            now=self.now,
            max_retries=self.max_retries,
            max_rate_wait=self.max_rate_wait,
        )

    def start(self) -> str:
        """The first run's ``updated_since``."""
        when = self.updated_since or (self.now() - timedelta(days=self.lookback_days))
        return iso_z(when if when.tzinfo else when.replace(tzinfo=UTC))

    # -- paging ------------------------------------------------------------------------------------------------
    def pages(self, cursor: str | None) -> Iterator[Page]:
        """Pages of tickets updated at or after ``cursor`` (an ISO time; None: ``start()``)."""
        start = parse_time(cursor or self.start())
        if start is None:
            raise CollectorError(
                f"the saved Freshdesk checkpoint {cursor!r} is not an ISO time; delete checkpoint "
                f"{self.checkpoint_name!r} to start again from updated_since"
            )
        since = iso_z(start)
        page_no = 1
        saved = cursor
        stored: set[tuple[str, str]] = set()  # (ticket id, updated_at) already stored in this run
        read = 0
        with self._api:
            while True:
                if page_no > self.page_limit:
                    raise CollectorError(
                        f"Freshdesk: more than {self.page_limit * self.per_page} tickets share updated_at "
                        f"{since}; Freshdesk cannot page past page {self.page_limit}. Set updated_since past it."
                    )
                params = {
                    "updated_since": since,
                    "order_by": "updated_at",
                    "order_type": "asc",
                    "per_page": self.per_page,
                    "page": page_no,
                    "include": ",".join(self.include) or None,
                }
                data = self._api.get_json(TICKETS_PATH, params).data
                if not isinstance(data, list):
                    got = sorted(data)[:8] if isinstance(data, Mapping) else type(data).__name__
                    raise CollectorError(
                        f"Freshdesk: {TICKETS_PATH} did not return a list of tickets (got {got}); "
                        "nothing from this page was stored"
                    )
                read += 1
                records: list[Record] = []
                skipped: Counter[str] = Counter()
                notes: list[str] = []
                newest = parse_time(since)
                newest_text = since
                for ticket in data:
                    updated = parse_time(ticket.get("updated_at")) if isinstance(ticket, Mapping) else None
                    key = (
                        (str(ticket.get("id")), iso_z(updated))
                        if updated and isinstance(ticket, Mapping)
                        else None
                    )
                    if key and key in stored:
                        skipped["reread_boundary"] += 1
                        continue
                    records.extend(self._ticket_records(ticket, skipped, notes))
                    if key:
                        stored.add(key)
                    if updated and newest and updated > newest:
                        newest, newest_text = updated, iso_z(updated)
                more = len(data) >= self.per_page
                if more and self.max_pages is not None and read >= self.max_pages:
                    notes.append(f"stopped after {read} ticket pages (max_pages); the next run continues")
                    more = False
                meta = {
                    "updated_since": since,
                    "page": page_no,
                    "tickets": len(data),
                    "skipped": dict(skipped),
                }
                if records or newest_text != saved:
                    yield Page(records, checkpoint=newest_text, meta={**meta, "notes": notes})
                    saved = newest_text
                if not more:
                    return
                if newest_text != since:
                    since, page_no = newest_text, 1  # keyset: the newest updated_at of this page, page 1
                else:
                    page_no += 1  # a whole page at one updated_at: only then a deeper page

    # -- records -----------------------------------------------------------------------------------------------
    def _ticket_records(self, ticket: Any, skipped: Counter[str], notes: list[str]) -> list[Record]:
        head = ticket_head(SOURCE, ticket, "ticket list entry")
        if isinstance(head, Rejected):
            return [head]
        tid, created = head

        requester_id = ticket.get("requester_id")
        requester = ticket.get("requester") if isinstance(ticket.get("requester"), Mapping) else {}
        author = requester.get("email") or (
            f"freshdesk-user:{requester_id}" if requester_id is not None else None
        )
        author_name = requester.get("name") or None

        records: list[Record] = [
            ticket_record(
                SOURCE,
                ticket,
                tid,
                subject=_text(ticket.get("subject")),
                description=_text(ticket.get("description_text")) or html_to_text(ticket.get("description")),
                created=created,
                author=author,
                author_name=author_name,
                url=f"{self._api.base_url}/a/tickets/{tid}",
                meta=_ticket_meta(ticket),
                missing="no subject or description",
            )
        ]

        if not self.fetch_conversations:
            return records
        try:
            conversations = self._conversations(tid)
        except SourceNotFound:
            notes.append(
                f"ticket {tid}: conversations not found (404; deleted meanwhile?); stored without replies"
            )
            return records
        for conv in conversations:
            if not isinstance(conv, Mapping):
                records.append(
                    Rejected(SOURCE, f"ticket {tid}: conversation is not an object", _dump(conv), tid)
                )
            elif conv.get("private", False):
                skipped["private_notes"] += 1
            elif not conv.get("incoming", False):
                skipped["agent_conversations"] += 1
            else:
                records.append(self._reply(tid, conv, requester_id, author, author_name))
        return records

    def _reply(
        self,
        tid: str,
        conv: Mapping[str, Any],
        requester_id: Any,
        author: str | None,
        author_name: str | None,
    ) -> Record:
        if conv.get("user_id") != requester_id:  # a CC'd customer writing in: their own author key
            sender = parseaddr(str(conv.get("from_email") or ""))[1]
            author = sender or f"freshdesk-user:{conv.get('user_id')}"
            author_name = None
        channel = SOURCE_NAMES.get(conv.get("source")) if isinstance(conv.get("source"), int) else None
        raw = dict(conv)
        # "Siti Rahmawati <siti@…>": ingest masks the address but not the name beside it, so keep the address only.
        if isinstance(raw.get("from_email"), str):
            raw["from_email"] = parseaddr(raw["from_email"])[1] or None
        return reply_record(
            SOURCE,
            tid,
            noun="conversation",
            reply_id=conv.get("id"),
            created_at=conv.get("created_at"),
            body=_text(conv.get("body_text")) or html_to_text(conv.get("body")),
            author=author,
            author_name=author_name,
            url=f"{self._api.base_url}/a/tickets/{tid}",
            meta={"author_role": "customer", **({"via_channel": channel} if channel else {})},
            raw=raw,
        )

    def _conversations(self, tid: str) -> list[Any]:
        path = CONVERSATIONS_PATH.format(id=tid)
        out: list[Any] = []
        for page_no in range(1, MAX_CONVERSATION_PAGES + 1):
            data = self._api.get_json(path, {"per_page": 100, "page": page_no}).data
            if not isinstance(data, list):
                raise CollectorError(
                    f"Freshdesk: {path} did not return a list of conversations; nothing stored"
                )
            out.extend(data)
            if len(data) < 100:
                return out
        raise CollectorError(
            f"Freshdesk: ticket {tid} has more than {MAX_CONVERSATION_PAGES} pages of conversations"
        )


# -- helpers ---------------------------------------------------------------------------------------------------
def _ticket_meta(ticket: Mapping[str, Any]) -> dict[str, Any]:
    status, priority, source = ticket.get("status"), ticket.get("priority"), ticket.get("source")
    stats = ticket.get("stats") if isinstance(ticket.get("stats"), Mapping) else None
    meta: dict[str, Any] = {
        "subject": ticket.get("subject"),
        "status": _name(STATUS_NAMES, status, "status"),
        "status_code": status,
        "priority": _name(PRIORITY_NAMES, priority, "priority"),
        "type": ticket.get("type"),
        "tags": list(ticket.get("tags") or []),
        "via_channel": _name(SOURCE_NAMES, source, "source"),
        "updated_at": ticket.get("updated_at"),
    }
    if stats is not None:
        meta["first_response_at"] = stats.get("first_responded_at")
        meta["solved_at"] = stats.get("resolved_at")
        if stats.get("closed_at"):
            meta["closed_at"] = stats.get("closed_at")
    return {k: v for k, v in meta.items() if v is not None or k in ("first_response_at", "solved_at")}


def _name(names: Mapping[int, str], code: Any, kind: str) -> str | None:
    """A code's name; custom codes (a custom status 6, …) keep their number: "status_6"."""
    if not isinstance(code, int) or isinstance(code, bool):
        return None
    return names.get(code, f"{kind}_{code}")


_BREAK_RE = re.compile(r"<\s*(?:br\s*/?|/p|/div|/li|/tr|/h\d)\s*>", re.IGNORECASE)
_TAG_RE = re.compile(r"<[^>]+>")
_BLANK_RE = re.compile(r"\n\s*\n+")


def html_to_text(value: Any) -> str:
    """Readable text from a Freshdesk HTML body, for when ``description_text``/``body_text`` is missing.

    >>> html_to_text("<div>Sertifikat saya <b>hilang</b>&nbsp;min<br>tolong dicek</div>")
    'Sertifikat saya hilang min\\ntolong dicek'
    """
    if not isinstance(value, str) or not value.strip():
        return ""
    text = html.unescape(_TAG_RE.sub("", _BREAK_RE.sub("\n", value))).replace("\xa0", " ")
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return _BLANK_RE.sub("\n\n", "\n".join(lines)).strip()
