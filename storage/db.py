"""Engine, migrations on connect, and the writes: upserts keyed so that every rerun is safe.

>>> engine = get_engine("sqlite:///:memory:")
>>> with engine.begin() as conn:
...     upsert_items(conn, [row]).new
1
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import StaticPool

from storage import schema
from storage.migrations import migrate
from suara.errors import StorageError

# Rows per statement: keeps SQLite under its bound-parameter limit and PostgreSQL statements small.
CHUNK = 500


def _now() -> datetime:
    return datetime.now(UTC)


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """An engine for ``url`` with the schema migrated (once per process and URL).

    SQLite gets foreign keys, WAL and a busy timeout; ``sqlite:///:memory:`` shares one connection so that
    every ``connect()`` sees the same database.
    """
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        if ":memory:" in url or url in ("sqlite://", "sqlite:///"):
            kwargs["poolclass"] = StaticPool
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(url, **kwargs)
    except Exception as exc:  # bad URL, missing driver
        raise StorageError(f"cannot use SUARA_DATABASE_URL={url!r}: {exc}") from exc
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if ":memory:" not in url:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

    try:
        with engine.begin() as conn:
            migrate(conn)
    except OperationalError as exc:
        raise StorageError(
            f"cannot open the store at {engine.url.render_as_string(hide_password=True)}: {exc.orig}"
        ) from exc
    return engine


def _insert(conn: Connection, table):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def _chunks(rows: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def content_hash(row: Mapping[str, Any]) -> str:
    """A hash of what an item says, so an unchanged re-delivery is recognised and not rewritten."""
    keys = (
        "source",
        "source_id",
        "kind",
        "author_key",
        "text",
        "language",
        "created_at",
        "url",
        "thread_id",
        "parent_id",
        "meta",
        "raw",
    )
    payload = {k: row.get(k) for k in keys}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class UpsertResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    ids: dict[tuple[str, str], int] = field(default_factory=dict)

    def __iadd__(self, other: UpsertResult) -> UpsertResult:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.ids.update(other.ids)
        return self


def upsert_items(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> UpsertResult:
    """Insert new items, update changed ones, leave identical ones alone; keyed on (source, source_id).

    ``rows`` are already masked (see ``storage.ingest``). Within one call the last row for a key wins.
    """
    result = UpsertResult()
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        full = dict(row)
        full.setdefault("collected_at", _now())
        full["updated_at"] = full["collected_at"]
        full.setdefault("meta", {})
        full.setdefault("raw", {})
        full["content_hash"] = content_hash(full)
        key = (full["source"], full["source_id"])
        if key in latest:
            result.unchanged += 1
        latest[key] = full
    t = schema.items
    for chunk in _chunks(list(latest.values())):
        keys = [(r["source"], r["source_id"]) for r in chunk]
        existing = {
            (s, sid): h
            for s, sid, h in conn.execute(
                select(t.c.source, t.c.source_id, t.c.content_hash).where(
                    tuple_(t.c.source, t.c.source_id).in_(keys)
                )
            )
        }
        changed = [r for r in chunk if existing.get((r["source"], r["source_id"])) != r["content_hash"]]
        for r in chunk:
            h = existing.get((r["source"], r["source_id"]))
            if h is None:
                result.new += 1
            elif h != r["content_hash"]:
                result.updated += 1
            else:
                result.unchanged += 1
        if changed:
            stmt = _insert(conn, t)
            update_cols = {
                c: stmt.excluded[c]
                for c in (
                    "kind",
                    "author_key",
                    "text",
                    "language",
                    "created_at",
                    "updated_at",
                    "url",
                    "thread_id",
                    "parent_id",
                    "meta",
                    "raw",
                    "content_hash",
                )
            }
            conn.execute(
                stmt.on_conflict_do_update(index_elements=["source", "source_id"], set_=update_cols),
                changed,
            )
        result.ids.update(
            {
                (s, sid): i
                for s, sid, i in conn.execute(
                    select(t.c.source, t.c.source_id, t.c.id).where(
                        tuple_(t.c.source, t.c.source_id).in_(keys)
                    )
                )
            }
        )
    return result


def save_predictions(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Write predictions; one row per (item, task, model version), a rerun overwrites its own version only."""
    if not rows:
        return 0
    now = _now()
    t = schema.predictions
    for chunk in _chunks([{"created_at": now, "run_id": None, **r} for r in rows]):
        stmt = _insert(conn, t)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["item_id", "task", "model_version"],
                set_={c: stmt.excluded[c] for c in ("label", "scores", "confidence", "created_at", "run_id")},
            ),
            list(chunk),
        )
    return len(rows)


def set_active_model(conn: Connection, task: str, model_version: str) -> None:
    """Make ``model_version`` the one whose predictions count as current for ``task``."""
    stmt = _insert(conn, schema.active_models).values(
        task=task, model_version=model_version, activated_at=_now()
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["task"],
            set_={"model_version": stmt.excluded.model_version, "activated_at": stmt.excluded.activated_at},
        )
    )


def get_active_model(conn: Connection, task: str) -> str | None:
    t = schema.active_models
    return conn.execute(select(t.c.model_version).where(t.c.task == task)).scalar_one_or_none()


def checkpoints_like(conn: Connection, prefix: str) -> dict[str, tuple[str | None, dict[str, Any]]]:
    """Every checkpoint whose name starts with ``prefix`` (e.g. all X queries: ``"x:search:"``)."""
    t = schema.checkpoints
    rows = conn.execute(
        select(t.c.name, t.c.cursor, t.c.meta).where(t.c.name.startswith(prefix, autoescape=True))
    )
    return {r.name: (r.cursor, dict(r.meta)) for r in rows}


def get_checkpoint(conn: Connection, name: str) -> tuple[str | None, dict[str, Any]]:
    """The saved cursor of a source (``None`` before the first complete run) and its metadata."""
    t = schema.checkpoints
    row = conn.execute(select(t.c.cursor, t.c.meta).where(t.c.name == name)).one_or_none()
    return (row.cursor, dict(row.meta)) if row else (None, {})


def set_checkpoint(
    conn: Connection, name: str, cursor: str | None, meta: Mapping[str, Any] | None = None
) -> None:
    """Save a source's cursor; call it in the same transaction as (or after) storing the items it covers."""
    stmt = _insert(conn, schema.checkpoints).values(
        name=name, cursor=cursor, meta=dict(meta or {}), updated_at=_now()
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={
                "cursor": stmt.excluded.cursor,
                "meta": stmt.excluded.meta,
                "updated_at": stmt.excluded.updated_at,
            },
        )
    )


def add_quarantine(
    conn: Connection,
    source: str,
    reason: str,
    raw: str,
    *,
    source_ref: str | None = None,
    run_id: int | None = None,
) -> bool:
    """Keep an input that could not be stored, with its reason; the same input twice is kept once.

    ``raw`` must already be PII-masked. Returns True when the record is new.
    """
    fingerprint = hashlib.sha256(f"{source_ref}\x00{raw}".encode("utf-8", "backslashreplace")).hexdigest()
    stmt = _insert(conn, schema.quarantine).values(
        source=source,
        source_ref=source_ref,
        reason=reason,
        raw=raw,
        fingerprint=fingerprint,
        created_at=_now(),
        run_id=run_id,
    )
    stmt = stmt.on_conflict_do_nothing(index_elements=["source", "fingerprint"]).returning(
        schema.quarantine.c.id
    )
    return conn.execute(stmt).scalar_one_or_none() is not None


def start_run(conn: Connection, flow: str, params: Mapping[str, Any] | None = None) -> int:
    """Record that a flow run began; returns the run id for ``finish_run``."""
    res = conn.execute(
        schema.runs.insert().values(
            flow=flow, status="running", started_at=_now(), params=dict(params or {}), counts={}, errors=[]
        )
    )
    return int(res.inserted_primary_key[0])


def finish_run(
    conn: Connection, run_id: int, *, status: str, counts: Mapping[str, Any], errors: Sequence[str] = ()
) -> None:
    conn.execute(
        schema.runs.update()
        .where(schema.runs.c.id == run_id)
        .values(status=status, finished_at=_now(), counts=dict(counts), errors=list(errors))
    )


def author_salt(conn: Connection, configured: str | None = None) -> str:
    """The salt for author keys: the configured one, else one created once per store and kept in it."""
    if configured:
        return configured
    t = schema.store_meta
    value = conn.execute(select(t.c.value).where(t.c.key == "author_salt")).scalar_one_or_none()
    if value is None:
        conn.execute(
            _insert(conn, t).values(key="author_salt", value=secrets.token_hex(16)).on_conflict_do_nothing()
        )
        value = conn.execute(select(t.c.value).where(t.c.key == "author_salt")).scalar_one()
    return value
