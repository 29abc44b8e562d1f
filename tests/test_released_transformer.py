"""The released transformer sentiment model, for real: the e5-small base built offline (``make`` does it) + the
committed adapter. Slow (loading and an ONNX export); run in CI with the slow tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models import registry
from models.sentiment import SentimentModel

pytestmark = pytest.mark.slow

OBVIOUS = {
    "aplikasinya error terus, otp gk masuk2, kecewa bgt": "negative",
    "terima kasih, pelayanannya cepat dan sangat membantu": "positive",
    "min, kapan insentif gelombang 3 cair?": "neutral",
    "bagaimana cara mendaftar ulang kalau lupa email?": "neutral",
    "makanannya enak banget, pasti balik lagi": "positive",
    "pelayanan buruk, sudah 2 minggu tidak ada jawaban": "negative",
}


def released() -> registry.ModelInfo:
    found = [i for i in registry.available(None) if i.task == "sentiment" and i.kind == "transformer"]
    assert found, "a transformer sentiment model must ship in models/released/"
    return found[0]


def test_release_is_small_documented_and_no_worse_than_its_recorded_floor():
    info = released()
    files = [f for f in Path(info.path).iterdir() if f.is_file()]
    assert {f.name for f in files} >= {"config.json", "adapter.safetensors", "README.md"}
    assert sum(f.stat().st_size for f in files) <= 10 * 1024 * 1024  # the base encoder is a reference
    config = registry.read_config(info.path)
    assert config["base_encoder"]["name"] == "intfloat/multilingual-e5-small"
    # the floor a replacement must clear (issue 4's must, 0.88 / 0.85, is not reached yet: docs/MODELS.md)
    assert config["metrics"]["smsa-test"]["macro_f1"] >= 0.86
    assert config["metrics"]["topics-dev"]["macro_f1"] >= 0.78
    assert 0.3 < config["temperature"] < 5


@pytest.fixture(scope="module")
def fp32() -> SentimentModel:
    return SentimentModel.from_pretrained(released().name)


def test_obvious_posts_get_the_obvious_label(fp32: SentimentModel):
    assert fp32.predict(list(OBVIOUS)) == list(OBVIOUS.values())
    proba = fp32.predict_proba(["", "😡😡😡", "x" * 20_000, "The app keeps crashing."])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)


def test_onnx_int8_agrees_with_torch_fp32(fp32: SentimentModel, shared_data: Path):
    from models.data import load_labelled

    texts, _ = load_labelled(shared_data / "sentiment" / "smsa" / "test.tsv")
    texts = texts[:200]
    int8 = SentimentModel.from_pretrained(f"{released().name}+onnx-int8")
    assert int8.version == f"{fp32.version}+onnx-int8"
    agree = np.mean(np.array(int8.predict(texts)) == np.array(fp32.predict(texts)))
    assert agree >= 0.95, agree
    onnx32 = SentimentModel.from_pretrained(f"{released().name}+onnx")
    np.testing.assert_allclose(onnx32.logits(texts[:32]), fp32.logits(texts[:32]), atol=2e-3)


def test_predict_uses_the_released_ensemble_on_onnx_int8_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import csv

    from typer.testing import CliRunner

    from suara.cli import app
    from suara.config import get_settings

    monkeypatch.delenv("SUARA_SENTIMENT_MODEL", raising=False)
    get_settings.cache_clear()
    try:
        assert get_settings().sentiment_model == "sentiment-e5-tfidf+onnx-int8"
        src, out = tmp_path / "in.csv", tmp_path / "out.csv"
        src.write_text("text\n" + "\n".join(f'"{t}"' for t in OBVIOUS) + "\n", encoding="utf-8")
        result = CliRunner().invoke(app, ["predict", str(src), "--output", str(out)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        rows = list(csv.DictReader(out.open(encoding="utf-8")))
    finally:
        get_settings.cache_clear()
    ensemble = registry.ModelInfo.read(registry.resolve("sentiment-e5-tfidf"))
    assert {r["model_version"] for r in rows} == {f"{ensemble.version}+onnx-int8"}
    assert [r["sentiment"] for r in rows] == list(OBVIOUS.values())


def test_the_released_ensemble_averages_the_released_models_and_shares_the_topic_models_pass():
    from models.topics import TopicModel, shares_encoder

    ensemble = SentimentModel.from_pretrained("sentiment-e5-tfidf+onnx-int8")
    tfidf = registry.ModelInfo.read(registry.resolve("sentiment-tfidf"))
    assert [m.version for m in ensemble.members] == [f"{released().version}+onnx-int8", tfidf.version]
    config = registry.read_config(registry.resolve("sentiment-e5-tfidf"))
    assert [m["weight"] for m in config["members"]] == [0.6, 0.4]
    assert "never chosen on smsa test or the topic dev set" in config["selection"].lower()
    # the topic model reads the transformer member's vectors: one encoder pass for both tasks
    assert shares_encoder(ensemble, TopicModel.from_pretrained("topics-e5-shared"))
    texts = list(OBVIOUS)
    preds, vectors = ensemble.predict_detailed_with_vectors(texts)
    assert [p.label for p in preds] == list(OBVIOUS.values()) and vectors.shape == (len(texts), 384)
    # not worse than its transformer alone where the product lives (the recorded dev-set figures)
    for runtime in ("", "+onnx-int8"):
        assert config["metrics"][f"Topic dev set (public services){runtime}"]["macro_f1"] >= 0.79


def test_reclassify_runs_the_default_model_on_the_runtime_it_names(engine):
    from datetime import date

    from suara import jobs

    jobs.collect_file(engine, jobs.SAMPLE_FILE)
    jobs.classify_pending(engine, topics=False)  # the fast tier (tests' default) is the old version
    scope = jobs.reclassify_scope("2026-11-14", "2026-11-15")
    result = jobs.reclassify(engine, "sentiment-e5-tfidf+onnx-int8", scope, activate=True)
    ensemble = registry.ModelInfo.read(registry.resolve("sentiment-e5-tfidf"))
    assert result.plan.new_version == f"{ensemble.version}+onnx-int8"
    assert result.plan.model_path.endswith("+onnx-int8") and result.complete and result.activated
    assert 0 < result.predicted == result.plan.in_scope < 432
    assert sum(result.diff.matrix.values()) == result.predicted
    assert date(2026, 11, 14).isoformat() in result.markdown()
