"""``run_collector``: pages stored with the checkpoint they make safe; a crash loses and duplicates nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from collectors.base import CollectedItem, Page, PagedCollector, Rejected
from storage import db, schema
from suara.jobs import run_collector


class Boom(RuntimeError):
    pass


def item(i: int) -> CollectedItem:
    return CollectedItem(
        source="fake",
        source_id=str(i),
        kind="post",
        text=f"keluhan {i}",
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
        author=f"@user{i}",
    )


@dataclass
class FakeSource:
    """Three pages of three items; the cursor is the last id of a page; may crash before yielding page k."""

    crash_before_page: int | None = None
    source: str = "fake"
    checkpoint_name: str = "fake:all"
    seen_cursors: list = field(default_factory=list)

    def pages(self, cursor: str | None) -> Iterator[Page]:
        self.seen_cursors.append(cursor)
        start = int(cursor) + 1 if cursor else 0
        for page_no, first in enumerate(range(start, 9, 3)):
            if self.crash_before_page is not None and page_no == self.crash_before_page:
                raise Boom("connection reset")
            records = [item(i) for i in range(first, min(first + 3, 9))]
            if first == 3:
                records.append(Rejected("fake", "no text", '{"id": "x"}', source_ref="x"))
            yield Page(records, checkpoint=str(first + 2))


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_fake_source_follows_the_protocol():
    assert isinstance(FakeSource(), PagedCollector)


def test_crash_after_page_k_then_rerun_stores_every_item_once(engine):
    with pytest.raises(Boom):
        run_collector(engine, FakeSource(crash_before_page=2))
    assert count(engine, schema.items) == 6
    with engine.connect() as conn:
        assert db.get_checkpoint(conn, "fake:all")[0] == "5"
        runs = conn.execute(select(schema.runs.c.status, schema.runs.c.errors)).all()
    assert runs[0].status == "failed" and "connection reset" in runs[0].errors[0]

    source = FakeSource()
    result = run_collector(engine, source)
    assert source.seen_cursors == ["5"]
    assert (result.new, result.pages, result.checkpoint) == (3, 1, "8")
    assert count(engine, schema.items) == 9 and count(engine, schema.quarantine) == 1

    again = run_collector(engine, FakeSource())
    assert (again.new, again.pages) == (0, 0)  # nothing after the saved cursor


def test_full_rerun_from_scratch_duplicates_nothing(engine):
    run_collector(engine, FakeSource())
    with engine.begin() as conn:
        db.set_checkpoint(conn, "fake:all", None)  # forget the cursor: the source sends everything again
    result = run_collector(engine, FakeSource())
    assert (result.new, result.unchanged, result.quarantined) == (0, 9, 1)
    assert count(engine, schema.items) == 9 and count(engine, schema.quarantine) == 1
