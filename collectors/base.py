"""The record every collector yields, and the protocol every collector follows.

Adding a source is one module: a class with a ``source`` name and a ``collect()`` that yields
``CollectedItem`` for good input and ``Rejected`` for input that cannot become an item (never dropping it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

KINDS = frozenset({"post", "reply", "ticket"})


@dataclass(frozen=True, slots=True)
class CollectedItem:
    """One piece of feedback as a source gave it, before masking (``storage.ingest`` masks it).

    >>> CollectedItem(source="x", source_id="1843", kind="post", text="otp gk masuk2 min",
    ...               created_at=datetime(2026, 10, 6, 1, 15, tzinfo=UTC), author="@budi")
    """

    source: str
    source_id: str
    kind: str
    text: str
    created_at: datetime
    author: str | None = None
    author_name: str | None = None
    language: str | None = None
    url: str | None = None
    thread_id: str | None = None
    parent_id: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rejected:
    """Input that could not become an item: kept in quarantine with its reason."""

    source: str
    reason: str
    raw: str
    source_ref: str | None = None


Record = CollectedItem | Rejected


@dataclass(frozen=True, slots=True)
class Page:
    """A batch of records and the cursor that becomes safe to save once they are stored.

    ``checkpoint=None`` means "not yet safe": X's ``since_id`` is only saved after the last page of a run, so a
    crash mid-run re-reads (upserts make that harmless) rather than skips.
    """

    records: Sequence[Record]
    checkpoint: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Collector(Protocol):
    """A source of feedback. ``collect`` may be called again after a crash: keys make reruns safe."""

    source: str

    def collect(self) -> Iterator[Record]: ...


@runtime_checkable
class PagedCollector(Protocol):
    """A source read page by page from a saved cursor (``suara.jobs.run_collector`` drives it).

    ``checkpoint_name`` names the cursor in the ``checkpoints`` table (e.g. ``"x:search:<hash of query>"``);
    ``pages(cursor)`` starts after ``cursor`` (None: from the beginning or the source's default window).
    """

    source: str
    checkpoint_name: str

    def pages(self, cursor: str | None) -> Iterator[Page]: ...
