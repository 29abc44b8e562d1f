"""The review loop: export the least confident predictions, import people's labels (all or nothing), score the
active models on them, and hand them to training."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from test_storage import item_row
from typer.testing import CliRunner

from digest.build import ReviewCheck
from models.data import load_labelled
from models.taxonomy import load_taxonomy
from models.topics import load_topic_labels
from storage import db, queries, schema
from storage import labels as store
from suara import jobs, review
from suara.cli import app
from suara.config import get_settings
from suara.errors import InputError


@pytest.fixture(scope="module")
def classified_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample collected and classified once (TF-IDF sentiment, the released topic model)."""
    path = tmp_path_factory.mktemp("review") / "classified.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SUARA_DATABASE_URL", f"sqlite:///{path}")
        mp.setenv("SUARA_MODEL_DIR", str(path.parent / "model_store"))
        get_settings.cache_clear()
        engine = jobs.engine_for()
        jobs.collect_file(engine, jobs.SAMPLE_FILE)
        jobs.classify_pending(engine)
        engine.dispose()
    get_settings.cache_clear()
    return path


@pytest.fixture
def store_engine(classified_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A copy of the classified store for one test, and the settings pointing at it."""
    path = tmp_path / "store.db"
    shutil.copy(classified_db, path)
    monkeypatch.setenv("SUARA_DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    return jobs.engine_for()


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def label_rows(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(schema.labels)).scalar_one())


def test_export_lists_the_least_confident_unlabelled_items_first(store_engine, tmp_path):
    out = review.export_queue(store_engine, tmp_path / "r.csv", limit=25)
    rows = read_csv(out.path)
    assert out.rows == len(rows) == 25 and out.model_version.startswith("sentiment-tfidf-")
    assert list(rows[0]) == list(review.REVIEW_COLUMNS)
    conf = [float(r["sentiment_confidence"]) for r in rows]
    assert conf == sorted(conf)
    with store_engine.connect() as conn:
        every = sorted(
            conn.execute(
                select(schema.predictions.c.confidence).where(schema.predictions.c.task == "sentiment")
            ).scalars()
        )
    assert conf[-1] <= every[25] + 1e-3  # nothing more doubtful was left out
    assert all(r["predicted_sentiment"] and r["predicted_topics"] for r in rows)
    assert all(r["sentiment"] == "" and r["topics"] == "" for r in rows)  # the reviewer fills these
    by_topics = read_csv(review.export_queue(store_engine, tmp_path / "t.csv", task="topics", limit=10).path)
    tconf = [float(r["topics_confidence"]) for r in by_topics]
    assert tconf == sorted(tconf)
    assert not list(tmp_path.glob("*.part"))  # written whole, then renamed
    jl = review.export_queue(store_engine, tmp_path / "r.jsonl", limit=3).path
    assert [json.loads(line)["item_id"] for line in jl.read_text().splitlines()] == [
        int(r["item_id"]) for r in rows[:3]
    ]


def test_import_stores_labels_once_and_a_later_review_replaces_them(store_engine, tmp_path):
    rows = read_csv(review.export_queue(store_engine, tmp_path / "r.csv", limit=6).path)
    rows[0].update(sentiment="negative", topics="pembayaran_dana; aplikasi_sistem")
    rows[1].update(sentiment="Neutral")
    rows[2].update(topics="informasi_kebijakan")
    filled = write_csv(tmp_path / "filled.csv", rows)
    first = review.import_labels(store_engine, filled, labeller="ana")
    assert (first.sentiment.new, first.topics.new, first.blank) == (2, 2, 3)
    again = review.import_labels(store_engine, filled, labeller="ana")
    assert (again.sentiment.new, again.sentiment.unchanged, again.topics.unchanged) == (0, 2, 2)
    assert label_rows(store_engine) == 4
    with store_engine.connect() as conn:
        topics = {r["id"]: r for r in store.labelled_items(conn, "topics")}
    assert topics[int(rows[0]["item_id"])]["label"] == "pembayaran_dana;aplikasi_sistem"
    assert topics[int(rows[0]["item_id"])]["labeller"] == "ana"
    assert topics[int(rows[0]["item_id"])]["source"] == "filled.csv"
    # labelled items leave the sentiment queue; the next export starts after them
    queue = read_csv(review.export_queue(store_engine, tmp_path / "r2.csv", limit=6).path)
    labelled = {rows[0]["item_id"], rows[1]["item_id"]}
    assert not labelled & {r["item_id"] for r in queue}
    rows[1].update(sentiment="positive")
    changed = review.import_labels(store_engine, write_csv(tmp_path / "b.csv", rows), labeller="budi")
    assert (changed.sentiment.updated, changed.sentiment.unchanged) == (1, 1)
    assert label_rows(store_engine) == 4


def test_a_file_with_bad_rows_imports_nothing_and_names_each_row(store_engine, tmp_path):
    rows = read_csv(review.export_queue(store_engine, tmp_path / "r.csv", limit=8).path)
    rows[0].update(sentiment="negative")  # good, but the file fails as a whole
    rows[1].update(sentiment="marah")
    rows[2].update(topics="pembayaran_dana;bansos")
    rows[3].update(topics="lainnya;aplikasi_sistem")
    rows[4].update(source_id="not-here", item_id="999999", sentiment="neutral")
    rows[5].update(item_id="abc", source_id="", sentiment="neutral")  # no source id: the item_id counts
    rows[6].update(topics="akun_verifikasi;aplikasi_sistem;pembayaran_dana;layanan_pelanggan")
    with pytest.raises(InputError) as err:
        review.import_labels(store_engine, write_csv(tmp_path / "bad.csv", rows), labeller="ana")
    msg = str(err.value)
    assert "6 problem(s), nothing imported" in msg
    for expected in (
        "line 3: sentiment 'marah'",
        "line 4: unknown topic id 'bansos'",
        "line 5: 'lainnya' goes alone",
        f"line 6: item {rows[4]['source']}/not-here is not in this store",
        "line 7: item_id 'abc' is not a number",
        "line 8: 4 topics",
    ):
        assert expected in msg
    assert msg.index("line 3") < msg.index("line 8")
    rows = [{**r, "sentiment": "", "topics": ""} for r in rows]
    rows[0].update(item_id="999999", source="", sentiment="neutral")
    with pytest.raises(InputError, match="line 2: item 999999 is not in this store"):
        review.import_labels(store_engine, write_csv(tmp_path / "bad2.csv", rows), labeller="ana")
    assert label_rows(store_engine) == 0
    for bad, match in (
        ("text\nhalo\n", "needs the columns source and source_id"),
        ("item_id,sentiment\n", "no rows"),
    ):
        (tmp_path / "x.csv").write_text(bad, encoding="utf-8")
        with pytest.raises(InputError, match=match):
            review.import_labels(store_engine, tmp_path / "x.csv", labeller="ana")
    (tmp_path / "x.jsonl").write_text('{"item_id": 1, "sentiment": "negative"}\nnot json\n', encoding="utf-8")
    with pytest.raises(InputError, match="line 2 is not JSON"):
        review.import_labels(store_engine, tmp_path / "x.jsonl", labeller="ana")
    (tmp_path / "y.jsonl").write_text('["item_id", 1]\n', encoding="utf-8")
    for read in (lambda p: review.import_labels(store_engine, p, labeller="ana"), load_labelled):
        with pytest.raises(InputError, match="line 1 is not a JSON object"):
            read(tmp_path / "y.jsonl")
    with pytest.raises(InputError, match="no such review file"):
        review.import_labels(store_engine, tmp_path / "missing.csv", labeller="ana")
    with pytest.raises(InputError, match="labeller"):
        review.import_labels(store_engine, tmp_path / "bad.csv", labeller=" ")
    assert label_rows(store_engine) == 0


def test_a_file_from_another_copy_of_the_store_lands_on_the_same_items(store_engine, tmp_path):
    rows = read_csv(review.export_queue(store_engine, tmp_path / "r.csv", limit=3).path)
    for r in rows:  # exported from a store whose ids differ: (source, source_id) still names the item
        r.update(item_id=str(int(r["item_id"]) + 1000), sentiment="neutral")
    assert (
        review.import_labels(store_engine, write_csv(tmp_path / "f.csv", rows), labeller="ana").sentiment.new
        == 3
    )
    with store_engine.connect() as conn:
        labelled = {(r["id"], r["label"]) for r in store.labelled_items(conn, "sentiment")}
    assert labelled == {(int(r["item_id"]) - 1000, "neutral") for r in rows}


def test_a_spreadsheet_that_mangled_long_ids_still_imports_but_a_foreign_item_id_does_not(
    store_engine, tmp_path
):
    rows = read_csv(review.export_queue(store_engine, tmp_path / "r.csv", limit=4).path)
    for r in rows:
        r.update(source_id="1.84304E+18", sentiment="negative")  # what Excel does to a 19-digit id in a CSV
    assert (
        review.import_labels(store_engine, write_csv(tmp_path / "m.csv", rows), labeller="ana").sentiment.new
        == 4
    )
    rows[0].update(item_id=rows[1]["item_id"], sentiment="neutral")  # an id that names another text here
    with pytest.raises(
        InputError, match=f"line 2: item {rows[0]['source']}/1.84304E\\+18: item_id .* has another"
    ):
        review.import_labels(store_engine, write_csv(tmp_path / "f.csv", rows), labeller="ana")


def test_excel_files_and_semicolon_csv_import(store_engine, tmp_path):
    from openpyxl import load_workbook

    out = review.export_queue(store_engine, tmp_path / "r.xlsx", limit=3)
    book = load_workbook(out.path)
    sheet = book.active
    header = [c.value for c in sheet[1]]
    assert header == list(review.REVIEW_COLUMNS) and sheet.max_row == 4
    sheet.cell(row=2, column=header.index("sentiment") + 1, value="positive")
    sheet.cell(row=3, column=header.index("topics") + 1, value="akun_verifikasi; aplikasi_sistem")
    book.save(out.path)
    done = review.import_labels(store_engine, out.path, labeller="ana")
    assert (done.sentiment.new, done.topics.new, done.blank) == (1, 1, 1)
    rows = read_csv(review.export_queue(store_engine, tmp_path / "s.csv", limit=2).path)
    rows[0]["sentiment"] = "neutral"
    with (tmp_path / "semi.csv").open("w", encoding="utf-8-sig", newline="") as f:  # Excel, Indonesian locale
        w = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter=";")
        w.writeheader()
        w.writerows(rows)
    assert review.import_labels(store_engine, tmp_path / "semi.csv", labeller="ana").sentiment.new == 1
    (tmp_path / "ansi.csv").write_bytes("item_id,sentiment,text\n1,neutral,caf\xe9\n".encode("cp1252"))
    with pytest.raises(InputError, match=r"not UTF-8.*CSV UTF-8"):
        review.import_labels(store_engine, tmp_path / "ansi.csv", labeller="ana")


def test_stats_score_the_active_models_on_the_stored_labels(store_engine, tmp_path):
    rows = read_csv(review.export_queue(store_engine, tmp_path / "r.csv", limit=40).path)
    with store_engine.connect() as conn:  # the sample's texts are masked in the store: match by source id
        source_ids = dict(conn.execute(select(schema.items.c.id, schema.items.c.source_id)).all())
    by_source_id = {
        json.loads(line)["id"]: json.loads(line)["gold"]
        for line in jobs.SAMPLE_FILE.read_text(encoding="utf-8").splitlines()
    }
    for r in rows:
        g = by_source_id[source_ids[int(r["item_id"])]]
        r.update(sentiment=g["sentiment"], topics=";".join(g["topics"]))
    review.import_labels(store_engine, write_csv(tmp_path / "gold.csv", rows), labeller="gold")
    stats = review.label_stats(store_engine)
    s, t = stats["sentiment"], stats["topics"]
    assert s["labelled"] == s["scored"] == 40 and sum(s["labels"].values()) == 40
    right = sum(r["predicted_sentiment"] == r["sentiment"] for r in rows)
    assert s["accuracy"] == round(right / 40, 4)
    assert s["active_model"].startswith("sentiment-tfidf-")
    assert t["labelled"] == 40 and 0 <= t["micro_f1"] <= 1 and t["active_model"].startswith("topics-")
    exact = sum(r["predicted_topics"] == r["topics"] for r in rows)
    assert (t["micro_f1"] == 1.0) == (exact == 40)


def test_labels_export_in_the_formats_training_reads(store_engine, tmp_path):
    with pytest.raises(InputError, match="no sentiment labels yet"):
        review.export_training(store_engine, "sentiment", tmp_path / "s.jsonl")
    rows = read_csv(review.export_queue(store_engine, tmp_path / "r.csv", limit=5).path)
    for r, (s, t) in zip(
        rows,
        [("negative", "pembayaran_dana"), ("neutral", ""), ("", "akun_verifikasi;aplikasi_sistem")],
        strict=False,
    ):
        r.update(sentiment=s, topics=t)
    review.import_labels(store_engine, write_csv(tmp_path / "f.csv", rows), labeller="ana")
    assert review.export_training(store_engine, "sentiment", tmp_path / "s.jsonl") == 2
    assert review.export_training(store_engine, "topics", tmp_path / "t.jsonl") == 2
    texts, labels = load_labelled(tmp_path / "s.jsonl")
    assert sorted(labels) == ["negative", "neutral"] and all(texts)
    topics = load_topic_labels(tmp_path / "t.jsonl", load_taxonomy(None))
    assert sorted(topics.topics) == [["akun_verifikasi", "aplikasi_sistem"], ["pembayaran_dana"]]
    with pytest.raises(InputError, match="unknown task"):
        review.export_training(store_engine, "emotion", tmp_path / "e.jsonl")


def test_an_export_before_classification_says_what_to_do(tmp_path):
    engine = jobs.engine_for()
    with pytest.raises(InputError, match="run `suara classify` first"):
        review.export_queue(engine, tmp_path / "r.csv")
    with pytest.raises(InputError, match=r"as \.xlsx \(for Excel\), \.csv or \.jsonl"):
        review.export_queue(engine, tmp_path / "r.xls")


def test_labels_upsert_on_both_stores(engine):
    with engine.begin() as conn:
        ids = db.upsert_items(conn, [item_row("1"), item_row("2")]).ids
        one, two = ids[("x", "1")], ids[("x", "2")]
        row = {"task": "sentiment", "labeller": "ana", "source": "a.csv"}
        first = store.save_labels(
            conn, [{**row, "item_id": one, "label": "neutral"}, {**row, "item_id": two, "label": "negative"}]
        )
        assert (first.new, first.updated, first.unchanged) == (2, 0, 0)
        # the same item twice in one file: its last row wins
        again = store.save_labels(
            conn,
            [{**row, "item_id": one, "label": "negative"}, {**row, "item_id": one, "label": "neutral"}],
        )
        assert (again.new, again.updated, again.unchanged) == (0, 0, 1)
        changed = store.save_labels(conn, [{**row, "item_id": two, "label": "positive", "labeller": "budi"}])
        assert (changed.new, changed.updated) == (0, 1)
        assert store.label_counts(conn) == {"sentiment": {"neutral": 1, "positive": 1}}
        assert {i for i, _ in queries.item_texts(conn, [one, two, 10**9])} == {one, two}
    with engine.begin() as conn:  # deleting an item deletes its labels
        conn.execute(schema.items.delete().where(schema.items.c.id == one))
        assert [r["id"] for r in store.labelled_items(conn, "sentiment")] == [two]


def test_review_commands_end_to_end(store_engine, tmp_path):
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    out = invoke("review", "export", "--out", tmp_path / "r.csv", "--limit", "3", "--since", "2026-10-26")
    assert out.exit_code == 0 and "3 items, least confident sentiment" in out.output
    rows = read_csv(tmp_path / "r.csv")
    assert all(r["created_at"] >= "2026-10-25T17:00" for r in rows)  # from 26 October, Jakarta time
    rows[0].update(sentiment="neutral")
    write_csv(tmp_path / "r.csv", rows)
    imported = invoke("review", "import", tmp_path / "r.csv", "--labeller", "ana")
    assert imported.exit_code == 0 and "sentiment: 1 new" in imported.output
    stats = json.loads(invoke("review", "stats").output)
    assert stats["sentiment"]["labelled"] == 1 and stats["topics"]["labelled"] == 0
    right = rows[0]["predicted_sentiment"] == "neutral"  # one review: macro-F1 over the labels that occur
    assert stats["sentiment"]["macro_f1"] == (1.0 if right else 0.0)
    assert set(stats["sentiment"]["per_class_f1"]) == {"neutral", rows[0]["predicted_sentiment"]}
    labels = invoke("review", "labels", "--task", "sentiment", "--out", tmp_path / "l.jsonl")
    assert labels.exit_code == 0 and "1 labelled items" in labels.output
    rows[1].update(sentiment="furious")
    write_csv(tmp_path / "r.csv", rows)
    bad = invoke("review", "import", tmp_path / "r.csv")
    assert bad.exit_code == 2 and "nothing imported" in bad.output


def test_the_loop_closes_labels_train_a_topic_model_that_takes_over_the_store(store_engine, tmp_path):
    from models.topics import TopicArgs, TopicModel, train_topics

    rows = read_csv(review.export_queue(store_engine, tmp_path / "r.csv", task="topics", limit=12).path)
    for r, t in zip(rows, ["aplikasi_sistem", "pembayaran_dana;akun_verifikasi", "lainnya"] * 4, strict=True):
        r["topics"] = t
    review.import_labels(store_engine, write_csv(tmp_path / "f.csv", rows), labeller="ana")
    review.export_training(store_engine, "topics", tmp_path / "mine.jsonl")
    released = TopicModel.from_pretrained(review.label_stats(store_engine)["topics"]["active_model"])
    path = train_topics(
        None,
        [tmp_path / "mine.jsonl"],
        out_root=tmp_path / "models",
        args=TopicArgs(embedder=released.args.embedder, cv_folds=2),
        name="topics-mine",
    )
    card = json.loads((path / "config.json").read_text())
    assert "mine.jsonl" in json.dumps(card) and path.name.startswith("topics-mine-")
    result = jobs.classify_pending(store_engine, topics_ref=str(path))
    assert result.classified == 0 and result.topics_classified == 432  # every stored item, once
    assert result.topics_activated and result.topics_model_version == path.name
    stats = review.label_stats(store_engine)["topics"]
    assert stats["active_model"] == path.name and stats["scored"] == 12
    again = jobs.classify_pending(store_engine, topics_ref=str(path))
    assert again.topics_classified == 0 and again.topics_activated  # a rerun has nothing left to do
    out = CliRunner().invoke(app, ["classify", "--topics-model", str(path)], catch_exceptions=False)
    assert out.exit_code == 0 and f"active topic model: {path.name}" in out.output


def test_the_digest_footer_says_how_often_the_models_agree_with_reviewers(store_engine, tmp_path):
    before = jobs.write_digest(store_engine, last_day=date(2026, 11, 15), out_dir=tmp_path / "d0", lang="en")
    assert before.data.review is None and "reviewers" not in before.markdown.read_text(encoding="utf-8")
    rows = read_csv(review.export_queue(store_engine, tmp_path / "r.csv", limit=8).path)
    for r in rows:  # the reviewer agrees with the model on the first five items' sentiment only
        r["sentiment"] = r["predicted_sentiment"]
    for r in rows[5:]:
        r["sentiment"] = next(s for s in ("negative", "neutral") if s != r["predicted_sentiment"])
    rows[0]["topics"] = rows[0]["predicted_topics"].split(";")[0]  # main topic among the predicted: agrees
    rows[1]["topics"] = next(
        t for t in ("penipuan_keamanan", "ketepatan_sasaran") if t not in rows[1]["predicted_topics"]
    )
    review.import_labels(store_engine, write_csv(tmp_path / "f.csv", rows), labeller="ana")
    files = jobs.write_digest(store_engine, last_day=date(2026, 11, 15), out_dir=tmp_path / "d", lang="en")
    check = "agrees with reviewers: sentiment on 62% of 8 items, topics on 50% of 2 items"
    assert files.data.review == ReviewCheck(8, 5, 2, 1)
    assert check in files.markdown.read_text(encoding="utf-8")
    assert check in files.html.read_text(encoding="utf-8")
    id_md = jobs.write_digest(store_engine, last_day=date(2026, 11, 15), out_dir=tmp_path / "i", lang="id")
    assert (
        "cocok dengan peninjau: sentimen 62% dari 8 item, topik 50% dari 2 item"
        in id_md.markdown.read_text(encoding="utf-8")
    )


def test_queue_and_agreement_queries_on_both_stores(engine):
    with engine.begin() as conn:
        ids = db.upsert_items(conn, [item_row(str(n), text=f"post {n}") for n in range(4)]).ids
        item = [ids[("x", str(n))] for n in range(4)]
        rows = [
            {
                "item_id": i,
                "task": "sentiment",
                "model_version": "s-1",
                "label": lab,
                "scores": {},
                "confidence": c,
            }
            for i, lab, c in zip(
                item, ["negative", "neutral", "positive", "neutral"], [0.9, 0.4, 0.7, 0.5], strict=True
            )
        ]
        rows.append({**rows[1], "model_version": "s-0", "confidence": 0.1})  # not the active version
        db.save_predictions(conn, rows)
        db.set_active_model(conn, "sentiment", "s-1")
        assert [r["id"] for r in store.review_queue(conn, "sentiment", limit=3)] == [
            item[1],
            item[3],
            item[2],
        ]
        assert store.review_queue(conn, "topics", limit=3) == []  # no topic predictions
        label = {"task": "sentiment", "labeller": "ana", "source": "a.csv"}
        store.save_labels(
            conn,
            [
                {**label, "item_id": item[1], "label": "neutral"},
                {**label, "item_id": item[3], "label": "negative"},
            ],
        )
        assert [r["id"] for r in store.review_queue(conn, "sentiment", limit=3)] == [item[2], item[0]]
        assert store.agreement(conn) == {"sentiment": (2, 1), "topics": (0, 0)}
        assert store.current_predictions(conn, item[:2], "sentiment")[item[1]]["model_version"] == "s-1"


def test_the_digest_reads_a_reviewed_items_labels_instead_of_its_predictions(engine):
    from storage import queries

    with engine.begin() as conn:
        ids = db.upsert_items(conn, [item_row(str(n), text=f"post {n}") for n in range(3)]).ids
        a, b, c = (ids[("x", str(n))] for n in range(3))
        pred = {"scores": {}, "confidence": 0.55}
        db.save_predictions(
            conn,
            [
                {**pred, "item_id": i, "task": "sentiment", "model_version": "s-1", "label": "neutral"}
                for i in (a, b, c)
            ]
            + [
                {
                    **pred,
                    "item_id": i,
                    "task": "topics",
                    "model_version": "t-1",
                    "label": "akun_verifikasi;pembayaran_dana",
                }
                for i in (a, b, c)
            ]
            + [
                {
                    "item_id": i,
                    "task": "aspects",
                    "model_version": "t-1@s-1",
                    "label": "",
                    "scores": {"akun_verifikasi": "positive", "pembayaran_dana": "negative"},
                    "confidence": None,
                }
                for i in (a, b)
            ],
        )
        db.set_active_model(conn, "sentiment", "s-1")
        db.set_active_model(conn, "topics", "t-1")
        label = {"labeller": "ana", "source": "r.csv"}
        store.save_labels(
            conn,
            [
                {**label, "item_id": a, "task": "sentiment", "label": "negative"},
                {**label, "item_id": b, "task": "topics", "label": "pembayaran_dana"},
            ],
        )
        rows = {
            r["id"]: r
            for r in queries.items_with_current_predictions(
                conn, datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
            )
        }
    assert (rows[a]["sentiment"], rows[a]["sentiment_confidence"], rows[a]["aspects"]) == (
        "negative",
        1.0,
        None,
    )
    assert rows[a]["topics"] == "akun_verifikasi;pembayaran_dana" and rows[a]["reviewed"]
    assert rows[b]["topics"] == "pembayaran_dana" and rows[b]["aspects"] == {"pembayaran_dana": "negative"}
    assert rows[b]["sentiment"] == "neutral" and rows[b]["reviewed"]
    assert rows[c]["sentiment"] == "neutral" and not rows[c]["reviewed"] and rows[c]["aspects"] is None


def test_the_queue_keeps_one_item_per_text_and_per_campaign(engine, tmp_path):
    texts = [
        "OTP gak masuk2",
        "otp  gak MASUK2",
        "template kampanye 1",
        "template kampanye 2",
        "aplikasi error",
    ]
    now = datetime(2026, 10, 6, tzinfo=UTC)
    with engine.begin() as conn:
        ids = db.upsert_items(conn, [item_row(str(n), text=t) for n, t in enumerate(texts)]).ids
        item = [ids[("x", str(n))] for n in range(len(texts))]
        db.save_predictions(
            conn,
            [
                {
                    "item_id": i,
                    "task": "sentiment",
                    "model_version": "s-1",
                    "label": "negative",
                    "scores": {},
                    "confidence": 0.4 + 0.1 * n,
                }
                for n, i in enumerate(item)
            ],
        )
        db.set_active_model(conn, "sentiment", "s-1")
        campaign = conn.execute(
            schema.campaigns.insert().values(
                fingerprint="f",
                sample_text="template",
                first_seen=now,
                last_seen=now,
                mentions=2,
                unique_authors=2,
                updated_at=now,
            )
        ).inserted_primary_key[0]
        conn.execute(
            schema.campaign_members.insert(), [{"campaign_id": campaign, "item_id": i} for i in item[2:4]]
        )
    out = review.export_queue(engine, tmp_path / "q.csv", limit=3)
    assert [int(r["item_id"]) for r in read_csv(out.path)] == [item[0], item[2], item[4]]
    assert out.repeats_left_out == 2
    rows = read_csv(out.path)
    for r in rows[:2]:
        r["sentiment"] = "negative"
    review.import_labels(engine, write_csv(tmp_path / "f.csv", rows), labeller="ana")
    # their repeats do not come back next time: the text and the campaign are labelled already
    again = review.export_queue(engine, tmp_path / "q2.csv", limit=3)
    assert [int(r["item_id"]) for r in read_csv(again.path)] == [item[4]] and again.repeats_left_out == 2


def test_several_reviewers_vote_and_rereading_an_old_file_changes_nothing(engine):
    with engine.begin() as conn:
        ids = db.upsert_items(conn, [item_row(str(n)) for n in (1, 2, 3)]).ids
        one, two, three = (ids[("x", str(n))] for n in (1, 2, 3))

        def review_by(who, labels, source=None):
            rows = [
                {
                    "item_id": i,
                    "task": "sentiment",
                    "label": lab,
                    "labeller": who,
                    "source": source or f"{who}.csv",
                }
                for i, lab in labels.items()
            ]
            return store.save_labels(conn, rows)

        def current():
            return {r["id"]: (r["label"], r["labeller"]) for r in store.labelled_items(conn, "sentiment")}

        ana = {one: "negative", two: "neutral", three: "positive"}
        assert str(review_by("ana", ana)) == "3 new, 0 changed, 0 unchanged"
        budi = review_by("budi", {one: "negative", two: "negative", three: "positive"})
        # one vote each on item two: the latest review counts, and the item is disputed
        assert (budi.new, budi.updated, budi.unchanged, budi.disputed) == (0, 1, 2, 1)
        assert current()[two] == ("negative", "budi")
        assert store.disputed_items(conn, "sentiment") == {two: {"ana": "neutral", "budi": "negative"}}
        # ana's file imported again: her reviews are already there, nothing moves back
        again = review_by("ana", ana)
        assert (again.new, again.updated, again.unchanged) == (0, 0, 3)
        assert current()[two] == ("negative", "budi")
        cara = review_by("cara", {two: "neutral"})
        assert (cara.updated, cara.disputed) == (1, 0)
        assert current() == {one: ("negative", "ana"), two: ("neutral", "cara"), three: ("positive", "ana")}
        assert store.disputed_items(conn, "sentiment") == {}
        agreement = store.reviewer_agreement(conn, "sentiment")
        assert (agreement["items"], agreement["all_agree"], agreement["disputed"]) == (3, 2, 0)
        pairs = {tuple(p["reviewers"]): p for p in agreement["pairs"]}
        # ana/budi: 2 of 3 alike; chance agreement (1·2 + 1·0 + 1·1) / 9 = 1/3, so kappa (2/3 − 1/3) / (2/3)
        assert (pairs["ana", "budi"]["items"], pairs["ana", "budi"]["alike"]) == (3, 2)
        assert pairs["ana", "budi"]["kappa"] == 0.5
        assert (pairs["ana", "cara"]["alike"], pairs["budi", "cara"]["alike"]) == (1, 0)
        assert pairs["ana", "cara"]["kappa"] is None  # one item, one label each: chance agreement is certain
        # budi changes his mind on item three: one vote each again
        assert review_by("budi", {three: "neutral"}).disputed == 1
        assert current()[three] == ("neutral", "budi")
        history = list(store.review_history(conn, "sentiment"))
        assert len(history) == 3 + 3 + 1 + 1
        assert [h["labeller"] for h in history[-2:]] == ["cara", "budi"]
        assert history[0]["source"] == "x" and history[0]["file"] == "ana.csv"
        assert list(store.review_history(conn, "topics")) == []


def test_deciding_label_counts_each_reviewers_latest_review():
    def r(i, label, who):
        return store.Review(i, label, who, "")

    assert store.deciding_label([r(1, "a", "ana")]) == (r(1, "a", "ana"), False)
    # ana's first review no longer votes; budi and cara outvote her latest one
    votes = [r(1, "b", "ana"), r(2, "b", "budi"), r(3, "b", "cara"), r(4, "a", "ana")]
    assert store.deciding_label(votes) == (r(3, "b", "cara"), False)
    # three labels, one vote each: the latest review, disputed
    assert store.deciding_label([r(5, "c", "dodi"), r(2, "b", "budi"), r(1, "a", "ana")]) == (
        r(5, "c", "dodi"),
        True,
    )
    # a majority of two against one is not disputed, whatever came last
    assert store.deciding_label([r(1, "a", "ana"), r(2, "a", "budi"), r(3, "b", "cara")])[0].label == "a"


def test_topic_reviewers_agreement_reads_main_topics_and_overlap(engine):
    with engine.begin() as conn:
        ids = db.upsert_items(conn, [item_row(str(n)) for n in (1, 2)]).ids
        one, two = ids[("x", "1")], ids[("x", "2")]
        row = {"task": "topics", "source": "t.csv"}
        store.save_labels(
            conn,
            [
                {**row, "item_id": one, "label": "pembayaran_dana;aplikasi_sistem", "labeller": "ana"},
                {**row, "item_id": two, "label": "akun_verifikasi", "labeller": "ana"},
            ],
        )
        store.save_labels(
            conn,
            [
                {**row, "item_id": one, "label": "pembayaran_dana", "labeller": "budi"},
                {**row, "item_id": two, "label": "aplikasi_sistem", "labeller": "budi"},
            ],
        )
        (pair,) = store.reviewer_agreement(conn, "topics")["pairs"]
    assert (pair["items"], pair["alike"], pair["main_topic_alike"]) == (2, 0, 1)
    assert pair["jaccard"] == 0.25  # (1/2 + 0) / 2


def test_migration_0005_keeps_earlier_labels_as_reviews(engine):
    from sqlalchemy import delete

    from storage.migrations import migrate

    now = datetime(2026, 11, 1, tzinfo=UTC)
    with engine.begin() as conn:  # a store as 0004 left it: labels, no reviews
        ids = db.upsert_items(conn, [item_row("1"), item_row("2")]).ids
        conn.execute(
            schema.labels.insert(),
            [
                {
                    "item_id": i,
                    "task": "sentiment",
                    "label": lab,
                    "labeller": "ana",
                    "source": "old.csv",
                    "created_at": now,
                    "updated_at": now,
                }
                for i, lab in ((ids[("x", "1")], "negative"), (ids[("x", "2")], "neutral"))
            ],
        )
        conn.execute(delete(schema.schema_migrations).where(schema.schema_migrations.c.name.like("0005%")))
    with engine.begin() as conn:
        assert migrate(conn) == ["0005_label_reviews"]
        history = list(store.review_history(conn))
        assert [(h["label"], h["labeller"], h["file"], h["reviewed_at"]) for h in history] == [
            ("negative", "ana", "old.csv", now),
            ("neutral", "ana", "old.csv", now),
        ]
        conn.execute(delete(schema.schema_migrations).where(schema.schema_migrations.c.name.like("0005%")))
        assert migrate(conn) == ["0005_label_reviews"]  # rerun: no review twice
        assert len(list(store.review_history(conn))) == 2
        same = store.save_labels(
            conn,
            [
                {
                    "item_id": ids[("x", "1")],
                    "task": "sentiment",
                    "label": "negative",
                    "labeller": "ana",
                    "source": "old.csv",
                }
            ],
        )
        assert (same.new, same.updated, same.unchanged) == (0, 0, 1)
        assert len(list(store.review_history(conn))) == 2


def test_a_disputed_item_goes_out_for_a_deciding_review(store_engine, tmp_path):
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    rows = read_csv(review.export_queue(store_engine, tmp_path / "r.csv", limit=4).path)
    for r, label in zip(rows, ("negative", "neutral", "positive", "neutral"), strict=True):
        r.update(sentiment=label)
    assert (
        invoke("review", "import", write_csv(tmp_path / "ana.csv", rows), "--labeller", "ana").exit_code == 0
    )
    rows[1].update(sentiment="negative")
    rows[2].update(sentiment="neutral")
    out = invoke("review", "import", write_csv(tmp_path / "budi.csv", rows), "--labeller", "budi")
    assert "2 changed, 2 unchanged, 2 disputed" in out.output
    assert "suara review export --disputed --task sentiment" in out.output
    stats = json.loads(invoke("review", "stats").output)["sentiment"]["reviewers"]
    assert (stats["items"], stats["all_agree"], stats["disputed"]) == (4, 2, 2)
    out = invoke("review", "export", "--disputed", "--out", tmp_path / "d.csv")
    assert out.exit_code == 0 and "2 disputed items" in out.output
    disputed = read_csv(tmp_path / "d.csv")
    assert [r["item_id"] for r in disputed] == sorted([rows[1]["item_id"], rows[2]["item_id"]], key=int)
    by_id = {r["item_id"]: r for r in disputed}
    assert by_id[rows[1]["item_id"]]["reviews"] == "ana: neutral | budi: negative"
    assert by_id[rows[2]["item_id"]]["reviews"] == "ana: positive | budi: neutral"
    for r in disputed:
        r.update(sentiment="neutral")
    decided = invoke("review", "import", write_csv(tmp_path / "d.csv", disputed), "--labeller", "cara")
    assert "disputed" not in decided.output
    assert read_csv(review.export_queue(store_engine, tmp_path / "d2.csv", disputed=True).path) == []
    with store_engine.connect() as conn:
        labelled = {str(r["id"]): r["label"] for r in store.labelled_items(conn, "sentiment")}
    assert labelled == {
        r["item_id"]: lab for r, lab in zip(rows, ("negative", "neutral", "neutral", "neutral"), strict=True)
    }
    out = invoke("review", "history", "--out", tmp_path / "h.jsonl")
    assert out.exit_code == 0 and "10 reviews" in out.output  # 4 by ana, 4 by budi, 2 by cara
    history = [json.loads(line) for line in (tmp_path / "h.jsonl").read_text().splitlines()]
    assert [h["labeller"] for h in history].count("cara") == 2 and history[-1]["file"] == "d.csv"
