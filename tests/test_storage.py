"""The store on SQLite and PostgreSQL: migrations, upserts, predictions per model version, checkpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, inspect, select

from storage import db, queries, schema
from storage.migrations import MIGRATIONS, migrate

WIB = timezone(timedelta(hours=7))


def item_row(source_id: str, text: str = "otp gk masuk2 min", **extra) -> dict:
    row = {
        "source": "x",
        "source_id": source_id,
        "kind": "post",
        "author_key": "a_123",
        "text": text,
        "language": "id",
        "created_at": datetime(2026, 10, 6, 8, 15, tzinfo=WIB),
        "url": None,
        "thread_id": source_id,
        "parent_id": None,
        "meta": {"metrics": {"like_count": 3}},
        "raw": {"id": source_id, "text": text},
    }
    row.update(extra)
    return row


def test_migrations_create_every_table_and_rerun_is_a_no_op(engine):
    names = set(inspect(engine).get_table_names())
    assert {t.name for t in schema.metadata.sorted_tables} <= names
    with engine.begin() as conn:
        assert migrate(conn) == []
        applied = conn.execute(select(schema.schema_migrations.c.name)).scalars().all()
    assert applied == [name for name, _ in MIGRATIONS]


def test_migration_0003_replaces_the_predictions_index_on_an_older_store(engine):
    from sqlalchemy import delete, text

    with engine.begin() as conn:  # put the store back to how 0002 left it
        conn.execute(text("DROP INDEX ix_predictions_task_version_item"))
        conn.execute(text("CREATE INDEX ix_predictions_task_version ON predictions (task, model_version)"))
        conn.execute(delete(schema.schema_migrations).where(schema.schema_migrations.c.name.like("0003%")))
    with engine.begin() as conn:
        assert migrate(conn) == ["0003_predictions_version_item_index"]
    indexes = {ix["name"]: ix["column_names"] for ix in inspect(engine).get_indexes("predictions")}
    assert indexes["ix_predictions_task_version_item"] == ["task", "model_version", "item_id"]
    assert "ix_predictions_task_version" not in indexes
    with engine.begin() as conn:
        assert migrate(conn) == []


def test_database_columns_match_schema_definition(engine):
    insp = inspect(engine)
    for table in schema.metadata.sorted_tables:
        in_db = {c["name"] for c in insp.get_columns(table.name)}
        assert in_db == {c.name for c in table.columns}, table.name


def test_upsert_is_idempotent_and_updates_changed_rows(engine):
    with engine.begin() as conn:
        first = db.upsert_items(conn, [item_row("1"), item_row("2")])
    assert (first.new, first.updated, first.unchanged) == (2, 0, 0)
    with engine.begin() as conn:
        collected = conn.execute(
            select(schema.items.c.collected_at).where(schema.items.c.source_id == "1")
        ).scalar()
        again = db.upsert_items(conn, [item_row("1"), item_row("2")])
    assert (again.new, again.updated, again.unchanged) == (0, 0, 2)
    with engine.begin() as conn:
        changed = db.upsert_items(conn, [item_row("1", text="otp akhirnya masuk, makasih min")])
        assert (changed.new, changed.updated) == (0, 1)
        rows = conn.execute(
            select(schema.items.c.source_id, schema.items.c.text, schema.items.c.collected_at).order_by(
                schema.items.c.source_id
            )
        ).all()
    assert [r.text for r in rows] == ["otp akhirnya masuk, makasih min", "otp gk masuk2 min"]
    assert rows[0].collected_at == collected  # first collection time survives an update
    assert set(first.ids) == {("x", "1"), ("x", "2")}


def test_duplicate_keys_in_one_batch_keep_the_last(engine):
    with engine.begin() as conn:
        res = db.upsert_items(conn, [item_row("9", text="lama"), item_row("9", text="baru")])
        assert (res.new, res.unchanged) == (1, 1)
        assert conn.execute(select(schema.items.c.text)).scalar_one() == "baru"


def test_timestamps_round_trip_as_aware_utc(engine):
    created = datetime(2026, 10, 6, 23, 59, 30, tzinfo=WIB)
    with engine.begin() as conn:
        db.upsert_items(conn, [item_row("t", created_at=created)])
        back = conn.execute(select(schema.items.c.created_at)).scalar_one()
    assert back == created and back.tzinfo is not None and back.utcoffset() == timedelta(0)


def test_naive_datetime_is_refused(engine):
    with pytest.raises(Exception, match="naive datetime"), engine.begin() as conn:
        db.upsert_items(conn, [item_row("n", created_at=datetime(2026, 10, 6))])


def test_predictions_keep_history_per_version_and_current_follows_active(engine):
    with engine.begin() as conn:
        ids = db.upsert_items(conn, [item_row("1"), item_row("2")]).ids
        one, two = ids[("x", "1")], ids[("x", "2")]
        pred = {"task": "sentiment", "scores": {"negative": 0.9}, "confidence": 0.9}
        db.save_predictions(
            conn,
            [
                {"item_id": one, "model_version": "v1", "label": "negative", **pred},
                {"item_id": two, "model_version": "v1", "label": "neutral", **pred},
            ],
        )
        # a rerun of the same version overwrites, never duplicates
        db.save_predictions(conn, [{"item_id": one, "model_version": "v1", "label": "negative", **pred}])
        db.save_predictions(conn, [{"item_id": one, "model_version": "v2", "label": "positive", **pred}])
        n = conn.execute(select(func.count()).select_from(schema.predictions)).scalar_one()
        assert n == 3
        assert queries.pending_item_ids(conn, "sentiment", "v2") == [two]
        assert queries.pending_item_ids(conn, "sentiment", "v1") == []

        start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
        db.set_active_model(conn, "sentiment", "v1")
        current = {r["id"]: r["sentiment"] for r in queries.items_with_current_predictions(conn, start, end)}
        assert current == {one: "negative", two: "neutral"}
        db.set_active_model(conn, "sentiment", "v2")
        assert db.get_active_model(conn, "sentiment") == "v2"
        current = {r["id"]: r["sentiment"] for r in queries.items_with_current_predictions(conn, start, end)}
        assert current == {one: "positive", two: None}


def test_checkpoints_quarantine_runs_and_salt(engine):
    with engine.begin() as conn:
        assert db.get_checkpoint(conn, "x:prakerja") == (None, {})
        db.set_checkpoint(conn, "x:prakerja", "1843000000000000123", {"pages": 3})
        db.set_checkpoint(conn, "x:prakerja", "1843000000000000999", {"pages": 4})
        assert db.get_checkpoint(conn, "x:prakerja") == ("1843000000000000999", {"pages": 4})

        assert db.add_quarantine(conn, "file", "invalid JSON", "{oops", source_ref="a.jsonl:3") is True
        assert db.add_quarantine(conn, "file", "invalid JSON", "{oops", source_ref="a.jsonl:3") is False
        assert conn.execute(select(func.count()).select_from(schema.quarantine)).scalar_one() == 1

        run = db.start_run(conn, "collect-file", {"path": "a.jsonl"})
        db.finish_run(conn, run, status="completed", counts={"new": 3}, errors=[])
        row = conn.execute(select(schema.runs).where(schema.runs.c.id == run)).one()
        assert (row.status, row.counts, row.finished_at is not None) == ("completed", {"new": 3}, True)

        salt = db.author_salt(conn)
        assert len(salt) == 32 and db.author_salt(conn) == salt
        assert db.author_salt(conn, "configured") == "configured"


def test_bad_database_url_is_a_named_error():
    from suara.errors import StorageError

    with pytest.raises(StorageError, match="SUARA_DATABASE_URL"):
        db.get_engine("nosuchdialect://x")


def test_aspects_are_read_for_the_active_topic_and_sentiment_models_only(engine):
    from models.aspects import aspect_version

    with engine.begin() as conn:
        one = db.upsert_items(conn, [item_row("1")]).ids[("x", "1")]
        aspects = {"manfaat_kualitas": "positive", "pembayaran_dana": "negative"}
        db.save_predictions(
            conn,
            [
                {"item_id": one, "task": "sentiment", "model_version": "s1", "label": "negative", "scores": {}},
                {"item_id": one, "task": "topics", "model_version": "t1", "scores": {},
                 "label": "pembayaran_dana;manfaat_kualitas"},
                {"item_id": one, "task": "aspects", "model_version": aspect_version("t1", "s1"),
                 "label": "manfaat_kualitas:positive;pembayaran_dana:negative", "scores": aspects},
            ],
        )  # fmt: skip
        db.set_active_model(conn, "sentiment", "s1")
        db.set_active_model(conn, "topics", "t1")
        start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
        (row,) = queries.items_with_current_predictions(conn, start, end)
        assert row["aspects"] == aspects and row["topics"] == "pembayaran_dana;manfaat_kualitas"
        # another active sentiment version did not make these aspects: they are not read
        db.set_active_model(conn, "sentiment", "s2")
        (row,) = queries.items_with_current_predictions(conn, start, end)
        assert row["aspects"] is None
