"""Ordered, named migrations that run automatically and are idempotent.

Each migration is a function of a connection that checks the database's real state before it changes
anything (like sqlite-utils), so running it twice, or over a database that a newer ``metadata.create_all``
already shaped, is harmless. Applied names are recorded in ``schema_migrations``. A new migration goes at
the end of ``MIGRATIONS``; never edit or reorder an applied one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, inspect, select, text

from storage import schema

Migration = tuple[str, Callable[[Connection], None]]

# A fixed key for PostgreSQL's advisory lock so that concurrent workers migrate one at a time.
_PG_LOCK_KEY = 0x5A_55_41_52_41


def _create_initial_tables(conn: Connection) -> None:
    tables = [
        schema.items,
        schema.predictions,
        schema.active_models,
        schema.checkpoints,
        schema.quarantine,
        schema.runs,
        schema.store_meta,
    ]
    schema.metadata.create_all(conn, tables=tables, checkfirst=True)


def _create_topic_tables(conn: Connection) -> None:
    tables = [schema.clusters, schema.cluster_members, schema.campaigns, schema.campaign_members]
    schema.metadata.create_all(conn, tables=tables, checkfirst=True)


def _predictions_version_item_index(conn: Connection) -> None:
    """(task, model_version, item_id) instead of (task, model_version): the anti-join of incremental classify
    and reclassify's per-chunk range reads are then index-only, whatever the planner's statistics say."""
    existing = {ix["name"] for ix in inspect(conn).get_indexes("predictions")}
    new = next(ix for ix in schema.predictions.indexes if ix.name == "ix_predictions_task_version_item")
    if new.name not in existing:
        new.create(conn)
    if "ix_predictions_task_version" in existing:
        conn.execute(text("DROP INDEX ix_predictions_task_version"))


def _create_labels_table(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=[schema.labels], checkfirst=True)


def _create_label_reviews(conn: Connection) -> None:
    """The reviews table, with one review for every label stored before it existed (same labeller, file and
    time), so a store's earlier labels count as reviews; rerunning adds none twice."""
    schema.metadata.create_all(conn, tables=[schema.label_reviews], checkfirst=True)
    lab, rev = schema.labels, schema.label_reviews
    missing = (
        select(lab.c.item_id, lab.c.task, lab.c.label, lab.c.labeller, lab.c.source, lab.c.updated_at)
        .where(~select(rev.c.id).where(rev.c.item_id == lab.c.item_id, rev.c.task == lab.c.task).exists())
        .order_by(lab.c.id)
    )
    conn.execute(
        rev.insert().from_select(["item_id", "task", "label", "labeller", "source", "created_at"], missing)
    )


MIGRATIONS: list[Migration] = [
    ("0001_initial", _create_initial_tables),
    ("0002_clusters_and_campaigns", _create_topic_tables),
    ("0003_predictions_version_item_index", _predictions_version_item_index),
    ("0004_labels", _create_labels_table),
    ("0005_label_reviews", _create_label_reviews),
]


def migrate(conn: Connection) -> list[str]:
    """Apply every migration not yet recorded; return the names applied now (empty when up to date)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    schema.schema_migrations.create(conn, checkfirst=True)
    done = set(conn.execute(select(schema.schema_migrations.c.name)).scalars())
    applied = []
    for name, step in MIGRATIONS:
        if name in done:
            continue
        step(conn)
        conn.execute(schema.schema_migrations.insert().values(name=name, applied_at=datetime.now(UTC)))
        applied.append(name)
    return applied


def table_names(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())
