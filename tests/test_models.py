"""The sentiment model API on a real (tiny) TF-IDF model: train, predict, save, load, resolve."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from labelled import LABELS, NEG, POS, TEXTS
from sklearn.feature_extraction.text import TfidfVectorizer

from models import registry
from models.sentiment import SentimentModel
from models.tfidf import TfidfArgs, TfidfSentimentModel, _Features
from suara.errors import ModelError

TINY = TfidfArgs(min_df=1, max_word_features=5000, max_char_features=5000, C=10.0)


@pytest.fixture(scope="module")
def tiny() -> TfidfSentimentModel:
    return TfidfSentimentModel.train(TEXTS, LABELS, TINY, name="sentiment-tiny")


def test_predict_shapes_and_labels(tiny):
    assert tiny.predict(["makasih min udah cair, pelatihannya bermanfaat"]) == ["positive"]
    assert tiny.predict("otp gak masuk, aplikasinya error") == ["negative"]
    proba = tiny.predict_proba(["kapan dibuka min?", "parah"])
    assert proba.shape == (2, 3) and np.allclose(proba.sum(axis=1), 1)
    assert tiny.predict_proba([]).shape == (0, 3)
    detailed = tiny.predict_detailed(["😡😡😡", ""])  # emoji-only and empty text still get a prediction
    assert all(p.label in tiny.labels and 0 < p.confidence <= 1 for p in detailed)
    assert tiny.predict(TEXTS) == LABELS  # it fits its own training data


def test_features_equal_sklearn_tfidf():
    docs = ["otp gak masuk", "otp masuk", "insentif cair", "insentif belum cair cair"]
    f = _Features.fit(docs, "word", (1, 2), TfidfArgs(min_df=1), 1000)
    ref = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=False, vocabulary=f.vocabulary)
    ref.fit(docs)
    assert np.allclose(f.transform(docs).toarray(), ref.transform(docs).toarray(), atol=1e-6)


def test_save_load_same_predictions_no_pickle(tiny, tmp_path):
    path = tiny.save_pretrained(tmp_path / "m")
    assert not list(path.glob("*.pkl")) and not list(path.glob("*.pickle"))
    np.load(path / "weights.npz", allow_pickle=False)  # loads without pickle
    config = json.loads((path / "config.json").read_text())
    assert config["labels"] == ["negative", "neutral", "positive"] and config["version"] == tiny.version
    assert {"python", "numpy", "scikit-learn"} <= set(config["libraries"])
    loaded = SentimentModel.from_pretrained(path)
    assert loaded.version == tiny.version
    probe = ["pelatihan bagus", "kapan cair?", "error mulu", "Min, NIK saya [NIK] gk bisa"]
    assert np.allclose(loaded.predict_proba(probe), tiny.predict_proba(probe), atol=1e-6)


def test_registry_resolves_name_version_and_path(tiny, tmp_path):
    root = tmp_path / "store"
    path = tiny.save_pretrained(root / tiny.name / tiny.version)
    assert registry.resolve("sentiment-tiny", root) == path
    assert registry.resolve(tiny.version, root) == path
    assert registry.resolve(str(path)) == path
    with pytest.raises(ModelError, match=r"no model 'nope'.*sentiment-tiny"):
        registry.resolve("nope", root)


def test_broken_model_directories_are_named_errors(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        SentimentModel.from_pretrained(tmp_path / "bad")
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "config.json").write_text(json.dumps({"kind": "magic", "name": "x", "version": "x"}))
    with pytest.raises(ModelError, match="unknown model kind 'magic'"):
        SentimentModel.from_pretrained(tmp_path / "odd")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text(
        json.dumps({"kind": "tfidf-logreg", "name": "x", "version": "x"})
    )
    with pytest.raises(ModelError, match="cannot load the TF-IDF model"):
        SentimentModel.from_pretrained(tmp_path / "half")


def test_training_needs_every_label_and_known_labels():
    with pytest.raises(ModelError, match="not among the model's labels"):
        TfidfSentimentModel.train(["a", "b"], ["negative", "angry"], TINY)
    with pytest.raises(ModelError, match="must contain every label"):
        TfidfSentimentModel.train(NEG + POS, ["negative"] * 10 + ["positive"] * 10, TINY)


def test_released_baseline_is_committed_small_and_documented():
    released = [i for i in registry.available(None) if i.name == "sentiment-tfidf"]
    assert released, "the released TF-IDF baseline must ship with the package"
    path = released[0].path
    size = sum(f.stat().st_size for f in Path(path).iterdir())
    assert size < 10 * 1024 * 1024
    config = registry.read_config(path)
    assert config["metrics"]["smsa-test"]["macro_f1"] >= 0.74
    assert (Path(path) / "README.md").read_text().count("smsa-test") == 1
