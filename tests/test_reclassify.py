"""Reclassification on a real store (SQLite and PostgreSQL) with two real TF-IDF models: the released one in use,
and a small one trained here as the "new version". No Prefect: the plain functions the flow calls."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models.sentiment import SentimentModel
from storage import db, schema
from storage import reclassify as rq
from storage.reclassify import Scope
from suara import jobs
from suara.errors import InputError, ModelError
from suara.testing import train_sample_model

SAMPLE = [json.loads(line) for line in jobs.SAMPLE_FILE.read_text(encoding="utf-8").splitlines()]
TZ = "Asia/Jakarta"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def new_model(tmp_path_factory) -> str:
    return train_sample_model(tmp_path_factory.mktemp("models"))  # a second model that disagrees often


def loaded(engine) -> str:
    """The sample in the store, classified by the released model (the active, "old" version)."""
    jobs.collect_file(engine, jobs.SAMPLE_FILE)
    return jobs.classify_pending(engine, topics=False).model_version  # topics: see the topic test


def predictions_of(engine, version: str) -> dict[int, tuple]:
    p = schema.predictions
    with engine.connect() as conn:
        rows = conn.execute(
            select(p.c.item_id, p.c.label, p.c.scores, p.c.confidence, p.c.run_id).where(
                p.c.task == "sentiment", p.c.model_version == version
            )
        )
        return {r.item_id: tuple(r)[1:] for r in rows}


def snapshot(engine) -> dict[str, list]:
    """Every row of every table that a run could write."""
    tables = (schema.items, schema.predictions, schema.active_models, schema.runs, schema.checkpoints)
    with engine.connect() as conn:
        return {t.name: sorted(map(repr, conn.execute(select(t)).all())) for t in tables}


def active(engine) -> str | None:
    with engine.connect() as conn:
        return db.get_active_model(conn, "sentiment")


def test_dry_run_writes_nothing_and_reports_what_the_real_run_then_writes(engine, new_model):
    old = loaded(engine)
    before = snapshot(engine)
    dry = jobs.reclassify(engine, new_model, dry_run=True, batch_size=100, activate=True)
    assert snapshot(engine) == before
    assert (dry.plan.in_scope, len(dry.plan.chunks), dry.predicted) == (432, 5, 0)

    # What it reports, computed here without the diff code: old labels from the store, new ones from the model.
    with engine.connect() as conn:
        texts = rq.scope_rows(conn, Scope(), "sentiment", old, 0, 10**9)
    new_labels = SentimentModel.from_pretrained(new_model).predict([r["text"] for r in texts])
    expected = Counter((r["old_label"], n) for r, n in zip(texts, new_labels, strict=True))
    assert dict(dry.diff.matrix) == dict(expected)
    assert dry.diff.relabelled == sum(c for (o, n), c in expected.items() if o != n) > 50
    assert dry.as_dict()["previous_version"] == old and not dry.activated

    real = jobs.reclassify(engine, new_model, batch_size=100)
    assert (real.predicted, real.complete, real.activated) == (432, True, False)
    assert dict(real.diff.matrix) == dict(expected)
    stored = predictions_of(engine, real.plan.new_version)
    assert [stored[r["id"]][0] for r in texts] == new_labels
    assert active(engine) == old


def test_crash_after_chunk_k_resumes_writes_each_item_once_keeps_the_old_version_and_activates_last(
    engine, new_model
):
    old = loaded(engine)
    old_rows = predictions_of(engine, old)

    def crash_after_second_chunk(chunk: int, predicted: int) -> None:
        if chunk == 2:
            raise RuntimeError("worker lost")

    with pytest.raises(RuntimeError, match="worker lost"):
        jobs.reclassify(engine, new_model, batch_size=100, activate=True, on_chunk=crash_after_second_chunk)
    version = SentimentModel.from_pretrained(new_model).version
    first = predictions_of(engine, version)
    assert len(first) == 200
    assert active(engine) == old  # a failed run activates nothing
    with engine.connect() as conn:
        runs = conn.execute(select(schema.runs).where(schema.runs.c.flow == "reclassify")).all()
    assert [(r.status, r.counts["predicted"]) for r in runs] == [("failed", 200)]

    again = jobs.reclassify(engine, new_model, batch_size=100, activate=True)
    assert (again.plan.done_before, again.predicted, len(again.plan.chunks)) == (200, 232, 3)
    assert again.complete and again.activated and active(engine) == version

    done = predictions_of(engine, version)
    p = schema.predictions
    with engine.connect() as conn:
        per_item = conn.execute(
            select(p.c.item_id, func.count())
            .where(p.c.task == "sentiment", p.c.model_version == version)
            .group_by(p.c.item_id)
        ).all()
        item_ids = set(conn.execute(select(schema.items.c.id)).scalars())
    assert {i for i, _ in per_item} == item_ids and {n for _, n in per_item} == {1}
    assert all(done[i] == first[i] for i in first)  # the first run's chunks were not redone
    assert predictions_of(engine, old) == old_rows  # the old version is untouched

    third = jobs.reclassify(engine, new_model, batch_size=100, activate=True)
    assert (third.predicted, third.plan.chunks, third.diff.compared) == (0, [], 432)


def test_scope_by_local_days_and_sources(engine, new_model):
    loaded(engine)
    scope = Scope.from_days(date(2026, 11, 2), date(2026, 11, 8), ["zendesk"], TZ)
    expected = sum(
        1
        for r in SAMPLE
        if r["channel"] == "zendesk" and "2026-11-02" <= r["created_at"][:10] <= "2026-11-08"
    )
    assert expected > 5
    result = jobs.reclassify(engine, new_model, scope, batch_size=1000, activate=True)
    assert (result.plan.in_scope, result.predicted, result.complete) == (expected, expected, True)
    assert len(predictions_of(engine, result.plan.new_version)) == expected
    assert "next classify run" in result.note()  # items outside the scope are classified by the next run
    assert "sources zendesk" in result.markdown()


def test_topic_moves_are_reported_when_topics_exist_and_their_absence_is_said(engine, new_model):
    old = loaded(engine)
    dry = jobs.reclassify(engine, new_model, dry_run=True)
    assert "No topic predictions in scope yet" in dry.markdown() and dry.diff.topic_moves() == []

    gold = {r["id"]: r["gold"]["topics"] for r in SAMPLE}
    with engine.begin() as conn:
        ids = dict(conn.execute(select(schema.items.c.source_id, schema.items.c.id)).all())
        db.set_active_model(conn, "topics", "topics-test-1")
        rows = [
            {
                "item_id": ids[sid],
                "task": "topics",
                "model_version": "topics-test-1",
                "label": ";".join(t),
                "scores": {},
            }
            for sid, t in gold.items()
        ]
        db.save_predictions(conn, rows)
    dry = jobs.reclassify(engine, new_model, dry_run=True)
    moves = dry.diff.topic_moves(top=50)
    assert moves and moves == sorted(moves, key=lambda m: (-m["moved"], m["topic"]))
    top = moves[0]
    # The same counts straight from the store and the model.
    in_topic = [sid for sid, t in gold.items() if top["topic"] in t]
    old_rows = predictions_of(engine, old)
    texts = {r["id"]: r["text"] for r in SAMPLE}
    with engine.connect() as conn:
        stored_text = dict(conn.execute(select(schema.items.c.id, schema.items.c.text)).all())
    new = SentimentModel.from_pretrained(new_model).predict([stored_text[ids[s]] for s in in_topic])
    old_counts = Counter(old_rows[ids[s]][0] for s in in_topic)
    new_counts = Counter(new)
    assert top["items"] == len(in_topic) and texts
    assert {lab: v for lab, v in top["by_label"].items()} == {
        lab: (old_counts[lab], new_counts[lab]) for lab in set(old_counts) | set(new_counts)
    }
    assert f"| {top['topic']} |" in dry.markdown()


def test_unknown_model_is_a_named_error(engine):
    loaded(engine)
    with pytest.raises(ModelError, match="no model 'sentiment-nope'"):
        jobs.reclassify(engine, "sentiment-nope", dry_run=True)


def test_id_ranges_cover_only_pending_items(engine, new_model):
    old = loaded(engine)
    with engine.connect() as conn:
        ids = sorted(conn.execute(select(schema.items.c.id)).scalars())
        everything = rq.id_ranges(conn, Scope(), 100)
        pending_old = rq.id_ranges(conn, Scope(), 100, pending_for=("sentiment", old))
        pending_new = rq.id_ranges(conn, Scope(), 100, pending_for=("sentiment", "v-new"))
    assert everything == pending_new == [(ids[i], ids[min(i + 99, 431)]) for i in range(0, 432, 100)]
    assert pending_old == []


# -- the diff itself (pure) -------------------------------------------------------------------------------------
def rows(n: int) -> list[dict]:
    labels = ("negative", "neutral", "positive")
    return [
        {
            "id": i,
            "text": f"teks | nomor {i}\nbaris dua",
            "old_label": None if i % 11 == 0 else labels[i % 3],
            "new_label": labels[(i // 2) % 3],
            "confidence": (i % 10) / 10,
            "topics": None if i % 5 == 0 else ("aplikasi;pembayaran" if i % 2 else "pembayaran"),
        }
        for i in range(n)
    ]


def test_diff_built_in_parts_equals_the_diff_built_at_once():
    whole = jobs.ReclassifyDiff("v1", "v2", max_examples=3)
    whole.add(rows(300))
    merged = jobs.ReclassifyDiff("v1", "v2", max_examples=3)
    for start in (0, 100, 200):
        part = jobs.ReclassifyDiff("v1", "v2", max_examples=3)
        part.add(rows(300)[start : start + 100])
        merged.merge(part)
    assert merged == whole
    assert whole.compared == 300 and sum(whole.matrix.values()) == 300
    assert whole.unlabelled_before == sum(1 for r in rows(300) if r["old_label"] is None)
    assert all(len(kept) <= 3 for kept in whole.examples.values())
    assert all(k == sorted(k, key=lambda e: (-e[0], e[1])) for k in whole.examples.values())
    md = whole.markdown(scope="every source", note="a note")
    assert "| old \\ new | negative | neutral | positive |" in md and "| — |" in md
    assert "teks \\| nomor" in md and "\nbaris" not in md  # one table row per example
    assert "| aplikasi |" in md or "| pembayaran |" in md


def test_cli_scope_parses_days_and_names_bad_input():
    scope = jobs.reclassify_scope("2026-11-01", "2026-11-15", ["x"], tz=TZ)
    assert scope == Scope.from_days(date(2026, 11, 1), date(2026, 11, 15), ["x"], TZ)
    assert scope.since.isoformat() == "2026-11-01T00:00:00+07:00"
    assert scope.until.isoformat() == "2026-11-16T00:00:00+07:00"  # the last day is included
    assert jobs.reclassify_scope() == Scope()
    with pytest.raises(InputError, match="--until '15/11/2026' is not a date"):
        jobs.reclassify_scope(until="15/11/2026")
    with pytest.raises(InputError, match="--since 2026-11-15 is after --until 2026-11-01"):
        jobs.reclassify_scope("2026-11-15", "2026-11-01")


# PostgreSQL only: SQLite plans these queries well without statistics.
@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_postgres_statistics_are_refreshed_for_the_planner(db_url, new_model):
    from sqlalchemy import text

    engine = db.get_engine(db_url)
    loaded(engine)
    jobs.reclassify(engine, new_model, batch_size=200)
    with engine.connect() as conn:
        analysed = conn.execute(
            text(
                "SELECT last_analyze FROM pg_stat_user_tables "
                "WHERE relname = 'predictions' AND schemaname = current_schema()"
            )
        ).scalar_one()
    assert analysed is not None


# -- a topic model ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def new_topic_model(tmp_path_factory) -> str:
    """A small real topic model (frozen e5, like the released topics-e5) trained on 80 sample items."""
    from models.topics import TopicArgs, train_topics

    root = tmp_path_factory.mktemp("topic_models")
    labelled = root / "labels.jsonl"
    labelled.write_text(
        "".join(
            json.dumps({"text": r["text"], "topics": r["gold"]["topics"]}) + "\n"
            for r in SAMPLE[:80]
            if r["gold"]["topics"]
        ),
        encoding="utf-8",
    )
    path = train_topics(None, [labelled], out_root=root, args=TopicArgs(cv_folds=2), name="topics-tiny")
    return str(path)


def labels_of(engine, task: str, version: str) -> dict[int, str]:
    """{item id: stored label} of one task and version."""
    p = schema.predictions
    with engine.connect() as conn:
        rows = conn.execute(
            select(p.c.item_id, p.c.label).where(p.c.task == task, p.c.model_version == version)
        )
        return dict(rows.all())


def topics_of(engine, version: str) -> dict[int, str]:
    return labels_of(engine, "topics", version)


@pytest.mark.slow  # about 18 s: the e5 encoder over the sample four times
def test_a_topic_model_reclassifies_topics_with_a_dry_run_a_resumed_run_and_activation(
    engine, new_topic_model
):
    from models.topics import TopicModel

    sentiment_version = loaded(engine)
    old = jobs.classify_pending(engine, topics_ref="topics-e5").topics_model_version
    with engine.connect() as conn:
        assert db.get_active_model(conn, "topics") == old
    old_topics = topics_of(engine, old)
    before = snapshot(engine)

    dry = jobs.reclassify(engine, new_topic_model, dry_run=True, batch_size=100)
    assert snapshot(engine) == before
    assert (dry.plan.task, dry.plan.old_version, dry.plan.in_scope) == ("topics", old, 432)
    # What it reports, computed here without the diff code.
    with engine.connect() as conn:
        stored = dict(conn.execute(select(schema.items.c.id, schema.items.c.text)).all())
    ids = sorted(stored)
    new = TopicModel.from_pretrained(new_topic_model).predict([stored[i] for i in ids])
    main = Counter((old_topics[i].split(";")[0], topics[0]) for i, topics in zip(ids, new, strict=True))
    assert dict(dry.diff.matrix) == dict(main)
    changed = sum(set(old_topics[i].split(";")) != set(t) for i, t in zip(ids, new, strict=True))
    assert dry.diff.relabelled == changed > 20
    volumes = {v["topic"]: (v["before"], v["after"]) for v in dry.diff.volumes()}
    every = {t for i in ids for t in old_topics[i].split(";")} | {t for ts in new for t in ts}
    assert volumes == {
        t: (sum(t in old_topics[i].split(";") for i in ids), sum(t in ts for ts in new)) for t in every
    }
    md = dry.markdown()
    assert "# Reclassification of topics (dry run" in md and "## Items per topic" in md
    assert f"| topics changed | {changed:,}" in md and "## Label changes" not in md

    def crash_after_second_chunk(chunk: int, predicted: int) -> None:
        if chunk == 2:
            raise RuntimeError("worker lost")

    with pytest.raises(RuntimeError, match="worker lost"):
        jobs.reclassify(
            engine, new_topic_model, batch_size=100, activate=True, on_chunk=crash_after_second_chunk
        )
    version = dry.plan.new_version
    assert len(topics_of(engine, version)) == 200
    again = jobs.reclassify(engine, new_topic_model, batch_size=100, activate=True)
    assert (again.plan.done_before, again.predicted, again.complete, again.activated) == (
        200,
        232,
        True,
        True,
    )
    assert dict(again.diff.matrix) == dict(main) and again.diff.relabelled == changed
    assert topics_of(engine, version) == {i: ";".join(t) for i, t in zip(ids, new, strict=True)}
    assert topics_of(engine, old) == old_topics  # the old version is untouched
    with engine.connect() as conn:
        assert db.get_active_model(conn, "topics") == version
        assert db.get_active_model(conn, "sentiment") == sentiment_version  # the other task is left alone
    assert "is now the active topics model" in again.note() and "post's own sentiment" in again.note()
    assert (
        again.as_dict()["task"] == "topics" and sum(v[1] for v in again.as_dict()["volumes"].values()) > 432
    )

    with pytest.raises(InputError, match=r"\+onnx-int8 is a runtime for sentiment transformers"):
        jobs.reclassify(engine, new_topic_model + "+onnx-int8", dry_run=True)


def aspects_of(engine, version: str) -> dict[int, str]:
    return labels_of(engine, "aspects", version)


@pytest.mark.slow  # the e5 encoder over the sample, twice
def test_reclassifying_either_task_stores_per_topic_sentiment_for_the_new_pair(
    engine, new_model, new_topic_model
):
    """Posts that praise one topic and blame another (tests/fixtures/aspects.jsonl, added to the sample) get
    per-topic sentiment for the new version with the other task's model in use, as classification stores it."""
    from datetime import UTC, datetime

    from models.aspects import aspect_rows, aspect_version
    from models.topics import TopicModel

    jobs.collect_file(engine, jobs.SAMPLE_FILE)
    mixed = (ROOT / "tests" / "fixtures" / "aspects.jsonl").read_text(encoding="utf-8").splitlines()
    with engine.begin() as conn:
        db.upsert_items(
            conn,
            [
                {
                    "source": "x",
                    "source_id": f"mixed-{n}",
                    "kind": "post",
                    "text": json.loads(line)["text"],
                    "created_at": datetime(2026, 11, 10, tzinfo=UTC),
                }
                for n, line in enumerate(mixed)
            ],
        )
        texts = dict(conn.execute(select(schema.items.c.id, schema.items.c.text)).all())
    items = sorted(texts.items())
    fast = jobs.classify_pending(engine, topics=False).model_version
    jobs.classify_pending(engine, topics_ref=new_topic_model)

    def expected(sentiment_version: str, sentiment_ref: str, topics_version: str, topics_ref: str) -> dict:
        sentiment = predictions_of(engine, sentiment_version)
        rows = aspect_rows(
            SentimentModel.from_pretrained(sentiment_ref),
            TopicModel.from_pretrained(topics_ref),
            items,
            [{"item_id": i, "label": label} for i, label in topics_of(engine, topics_version).items()],
            [{"item_id": i, "label": sentiment[i][0]} for i, _ in items],
        )
        return {r["item_id"]: r["label"] for r in rows}

    topics = jobs.reclassify(engine, "topics-e5", batch_size=200, activate=True)  # a topic model …
    assert topics.plan.partner == fast and topics.activated
    want = expected(fast, fast, topics.plan.new_version, "topics-e5")
    assert aspects_of(engine, aspect_version(topics.plan.new_version, fast)) == want and len(want) >= 3

    sentiment = jobs.reclassify(engine, new_model, batch_size=200)  # … then a sentiment model
    assert sentiment.plan.partner == topics.plan.new_version and sentiment.predicted == len(items)
    pair = aspect_version(topics.plan.new_version, sentiment.plan.new_version)
    want = expected(sentiment.plan.new_version, new_model, topics.plan.new_version, "topics-e5")
    assert aspects_of(engine, pair) == want and len(want) >= 1, want


def test_diff_of_topics_built_in_parts_equals_the_diff_built_at_once():
    names = ("akun", "bayar", "aplikasi", "lainnya")

    def topic_rows(n: int) -> list[dict]:
        return [
            {
                "id": i,
                "text": f"teks {i}",
                "old_label": None if i % 13 == 0 else ";".join(names[: 1 + i % 3]),
                "new_label": ";".join(names[(i // 2) % 4 : (i // 2) % 4 + 1 + i % 2]),
                "confidence": (i % 10) / 10,
            }
            for i in range(n)
        ]

    whole = jobs.ReclassifyDiff("t1", "t2", max_examples=3, task="topics")
    whole.add(topic_rows(300))
    merged = jobs.ReclassifyDiff("t1", "t2", max_examples=3, task="topics")
    for start in (0, 100, 200):
        part = jobs.ReclassifyDiff("t1", "t2", max_examples=3, task="topics")
        part.add(topic_rows(300)[start : start + 100])
        merged.merge(part)
    assert merged == whole and whole.compared == 300
    assert whole.unlabelled_before == len(range(0, 300, 13))
    assert whole.matrix[("—", "akun")] + whole.matrix[("—", "bayar")] > 0  # no old topics: a row of its own
    # Same topics in another order is not a change.
    same = jobs.ReclassifyDiff("t1", "t2", task="topics")
    same.add([{"id": 1, "text": "x", "old_label": "akun;bayar", "new_label": "bayar;akun", "confidence": 1}])
    assert same.relabelled == 0 and same.matrix[("akun", "bayar")] == 1
    assert same.volumes() == [
        {"topic": "akun", "before": 1, "after": 1},
        {"topic": "bayar", "before": 1, "after": 1},
    ]
