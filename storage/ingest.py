"""From collected records to stored rows: validate, mask PII, key authors, upsert; quarantine the rest.

Nothing leaves here unmasked: item text, metadata, raw payload and quarantined input all pass through
``models.text.mask_pii``/``mask_payload``, and author handles become salted keys.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from collectors.base import CollectedItem, Record, Rejected
from models.text import mask_payload, mask_pii
from storage.db import add_quarantine, upsert_items

# A feedback text longer than this is not a post or a ticket but a dump; keep it in quarantine for a human.
MAX_TEXT_CHARS = 20_000
BATCH = 500
NAME_PLACEHOLDER = "[NAMA]"


@dataclass
class IngestResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "quarantined": self.quarantined,
        }

    def add(self, other: IngestResult) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.quarantined += other.quarantined

    def __str__(self) -> str:
        return (
            f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.quarantined} quarantined"
        )


def author_key(salt: str, source: str, handle: str) -> str:
    """A stable pseudonym for an author within a source: HMAC-SHA256, never reversible without the salt.

    >>> author_key("s3cret", "x", "@Budi_S") == author_key("s3cret", "x", "budi_s")
    True
    """
    normalised = handle.strip().lstrip("@").lower()
    digest = hmac.new(salt.encode(), f"{source}\x00{normalised}".encode(), hashlib.sha256).hexdigest()
    return "a_" + digest[:20]


def _problem(item: CollectedItem) -> str | None:
    if not item.source_id:
        return "no source id"
    if not item.text or not item.text.strip():
        return "empty text"
    if len(item.text) > MAX_TEXT_CHARS:
        return f"text too long ({len(item.text):,} characters; the limit is {MAX_TEXT_CHARS:,})"
    if item.created_at.tzinfo is None:
        return "created_at has no timezone"
    return None


def sanitize(
    item: CollectedItem, *, salt: str, official_handles: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The row to store for ``item``: PII masked everywhere, handles replaced by the author key."""
    key = author_key(salt, item.source, item.author) if item.author else None
    replace: dict[str, str] = {}
    if item.author and key:
        replace[item.author] = key
        replace[item.author.lstrip("@")] = key
    url = mask_pii(item.url, mentions=False) if item.url else None
    if url and item.author:
        # Post URLs carry the handle (x.com/<handle>/status/<id>): swap it for the key, after masking, so the
        # key's own digits are never taken for a number to mask.
        url = url.replace(item.author.lstrip("@"), key or "")

    # People sign their messages ("a.n. Siti Rahma"): their own display name is masked like any PII, in the
    # text and in every string of meta and raw (where the same message is repeated: body, plain_body, …).
    name = (item.author_name or "").strip()
    name_re = re.compile(re.escape(name), re.IGNORECASE) if len(name) >= 3 else None

    def unname(value: Any) -> Any:
        if name_re is None:
            return value
        if isinstance(value, str):
            return name_re.sub(NAME_PLACEHOLDER, value)
        if isinstance(value, dict):
            return {k: unname(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(unname(v) for v in value)
        return value

    def mask_obj(obj: Any) -> Any:
        return unname(mask_payload(obj, replace=replace, official_handles=official_handles))

    text = unname(mask_pii(item.text, official_handles=official_handles))
    return {
        "source": item.source,
        "source_id": item.source_id,
        "kind": item.kind,
        "author_key": key,
        "text": text,
        "language": item.language,
        "created_at": item.created_at,
        "url": url,
        "thread_id": item.thread_id,
        "parent_id": item.parent_id,
        "meta": mask_obj(dict(item.meta)),
        "raw": mask_obj(dict(item.raw)),
    }


def ingest(
    conn: Connection,
    records: Iterable[Record],
    *,
    salt: str,
    official_handles: frozenset[str] = frozenset(),
    run_id: int | None = None,
    batch_size: int = BATCH,
) -> IngestResult:
    """Store good records (upsert) and quarantine bad ones; safe to run again on the same input."""
    result = IngestResult()
    batch: list[dict[str, Any]] = []
    now = datetime.now(UTC)

    def flush() -> None:
        if batch:
            r = upsert_items(conn, batch)
            result.add(IngestResult(new=r.new, updated=r.updated, unchanged=r.unchanged))
            batch.clear()

    for record in records:
        if isinstance(record, Rejected):
            _quarantine(
                conn, record.source, record.reason, record.raw, record.source_ref, official_handles, run_id
            )
            result.quarantined += 1
            continue
        problem = _problem(record)
        if problem:
            raw = json.dumps(dict(record.raw) or {"text": record.text}, ensure_ascii=False, default=str)
            _quarantine(conn, record.source, problem, raw, record.source_id or None, official_handles, run_id)
            result.quarantined += 1
            continue
        row = sanitize(record, salt=salt, official_handles=official_handles)
        row["collected_at"] = now
        batch.append(row)
        if len(batch) >= batch_size:
            flush()
    flush()
    return result


def _quarantine(conn, source, reason, raw, ref, official_handles, run_id) -> None:
    # Quarantined input is masked too (identity fields of a JSON object redacted); an over-long dump is cut so
    # one bad record cannot bloat the store.
    raw = raw[: MAX_TEXT_CHARS * 2]
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        masked = json.dumps(mask_payload(parsed, official_handles=official_handles), ensure_ascii=False)
    else:
        masked = mask_pii(raw, official_handles=official_handles)
    # Reasons may quote the source (an API error's detail): masked like the rest.
    reason = mask_pii(reason, official_handles=official_handles)
    add_quarantine(conn, source, reason, masked, source_ref=ref, run_id=run_id)
