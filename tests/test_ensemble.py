"""The sentiment ensemble (models/ensemble.py): a transformer and the TF-IDF model, averaged and calibrated."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from labelled import LABELS, TEXTS
from test_transformer import HELD_OUT, make_tiny_bert, tiny_args, write_data_dir

from models.calibration import softmax
from models.ensemble import EPS, EnsembleSentimentModel, build_ensemble
from models.sentiment import SentimentModel
from models.tfidf import TfidfArgs, TfidfSentimentModel
from models.train_transformer import train_sentiment_transformer
from suara.config import get_settings
from suara.errors import ModelError


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SentimentModel, SentimentModel]:
    """A tiny transformer and a tiny TF-IDF model, saved in one model directory."""
    root = tmp_path_factory.mktemp("ensemble")
    store = root / "models"
    path = train_sentiment_transformer(
        write_data_dir(root / "data"),
        out_root=store,
        args=tiny_args(encoder=str(make_tiny_bert(root / "bert"))),
        run_dir=root / "run",
        log=lambda _: None,
    )
    tfidf = TfidfSentimentModel.train(
        TEXTS, LABELS, TfidfArgs(min_df=1, max_word_features=2000, max_char_features=2000), name="tfidf-tiny"
    )
    tfidf.save_pretrained(store / "tfidf-tiny" / tfidf.version)
    return store, SentimentModel.from_pretrained(path), tfidf


@pytest.fixture
def model_dir(members, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SUARA_MODEL_DIR", str(members[0]))
    get_settings.cache_clear()
    yield members[0]
    get_settings.cache_clear()


def calib() -> list[tuple[list[str], list[str]]]:
    return [([t for t, _ in HELD_OUT], [lab for _, lab in HELD_OUT]), (TEXTS[:6], LABELS[:6])]


def test_the_ensemble_is_the_calibrated_weighted_geometric_mean(members, model_dir):
    _, transformer, tfidf = members
    model = build_ensemble(
        [transformer.version, tfidf.version], [3, 1], calib(), name="ens-tiny", model_dir=model_dir
    )
    assert np.allclose(model.weights, [0.75, 0.25]) and model.version.startswith("ens-tiny-")
    texts = ["aplikasinya error terus", "kapan cair min?", "", "😡😡", "mantap " * 400]
    pa, pb = transformer.predict_proba(texts), tfidf.predict_proba(texts)
    # probabilities are clipped at EPS before the logarithm: one model's certainty cannot veto the other
    pa, pb = np.clip(pa, EPS, 1), np.clip(pb, EPS, 1)
    expected = softmax(0.75 * np.log(pa) + 0.25 * np.log(pb), model.temperature)
    np.testing.assert_allclose(model.predict_proba(texts), expected, atol=1e-6)
    assert model.card["calibration"]["rows"] == len(HELD_OUT) + 6 and 0.05 <= model.temperature <= 20
    # a member with weight 0 changes nothing but the calibration
    alone = build_ensemble([transformer.version, tfidf.version], [1, 0], calib(), model_dir=model_dir)
    assert alone.predict(texts) == transformer.predict(texts)


def test_save_load_by_version_gives_the_same_predictions_and_a_card(
    members, model_dir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SUARA_CACHE_DIR", str(tmp_path / "cache"))  # the ONNX export goes here
    store, transformer, tfidf = members
    model = build_ensemble([transformer.version, tfidf.version], [0.6, 0.4], calib(), name="ens-tiny")
    path = model.save_pretrained(store / "ens-tiny" / model.version)
    config = json.loads((path / "config.json").read_text())
    assert config["kind"] == "ensemble" and [m["model"] for m in config["members"]] == [
        transformer.version,
        tfidf.version,
    ]
    assert [m["weight"] for m in config["members"]] == [0.6, 0.4]
    assert sorted(p.name for p in path.iterdir()) == ["README.md", "config.json"]  # no weights of its own
    assert "| `" + tfidf.version + "` | tfidf-logreg | 0.40 |" in (path / "README.md").read_text()
    loaded = SentimentModel.from_pretrained(model.version, model_dir=store)
    assert isinstance(loaded, EnsembleSentimentModel) and loaded.version == model.version
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), model.predict_proba(TEXTS), atol=1e-6)
    # the runtime suffix moves the transformer member onto it and is part of the version
    onnx = SentimentModel.from_pretrained(f"{model.version}+onnx", model_dir=store)
    assert onnx.version == f"{model.version}+onnx"
    assert [m.version for m in onnx.members] == [f"{transformer.version}+onnx", tfidf.version]
    np.testing.assert_allclose(onnx.predict_proba(TEXTS), model.predict_proba(TEXTS), atol=1e-3)


def test_topic_models_share_the_transformer_members_encoder_pass(members, model_dir):
    _, transformer, tfidf = members
    model = build_ensemble([transformer.version, tfidf.version], [0.6, 0.4], calib(), model_dir=model_dir)
    assert model.embedder_name == transformer.embedder_name == model.as_embedder().name
    preds, vectors = model.predict_detailed_with_vectors(TEXTS[:5])
    _, own = transformer.predict_detailed_with_vectors(TEXTS[:5])
    np.testing.assert_allclose(vectors, own, atol=1e-6)
    assert [p.label for p in preds] == model.predict(TEXTS[:5])
    np.testing.assert_allclose(
        [[p.scores[lab] for lab in model.labels] for p in preds], model.predict_proba(TEXTS[:5]), atol=1e-5
    )
    assert model.predict_detailed_with_vectors([])[0] == []


def test_bad_ensembles_say_what_is_wrong(members, model_dir, tmp_path: Path):
    _, transformer, tfidf = members
    with pytest.raises(ModelError, match="one weight per member"):
        EnsembleSentimentModel([transformer, tfidf], [1.0], name="e", version="e-1")
    with pytest.raises(ModelError, match="not all 0"):
        EnsembleSentimentModel([transformer, tfidf], [0, 0], name="e", version="e-1")
    tfidf_only = EnsembleSentimentModel([tfidf], [1], name="e", version="e-1")
    with pytest.raises(ModelError, match="no transformer member"):
        tfidf_only.with_runtime("onnx-int8")
    with pytest.raises(ModelError, match="gives no sentence vectors"):
        tfidf_only.predict_detailed_with_vectors(["x"])
    with pytest.raises(ModelError, match="not the models' labels"):
        build_ensemble([transformer.version, tfidf.version], [1, 1], [(["x"], ["angry"])])
    with pytest.raises(ModelError, match="two or more members"):
        build_ensemble([tfidf.version], [1], [])
    with pytest.raises(ModelError, match="or labelled data to choose them on"):
        build_ensemble([transformer.version, tfidf.version], None, [])
    path = tmp_path / "gone"
    EnsembleSentimentModel([tfidf], [1], name="gone", version="gone-1").save_pretrained(path)
    config = json.loads((path / "config.json").read_text())
    config["members"][0]["model"] = "tfidf-tiny-000000000000-deleted"
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="member 'tfidf-tiny-000000000000-deleted' cannot be loaded"):
        SentimentModel.from_pretrained(path)


def test_weights_chosen_on_labels_are_the_best_on_the_grid(members, model_dir):
    _, transformer, tfidf = members
    data = [([t for t, _ in HELD_OUT] + TEXTS, [lab for _, lab in HELD_OUT] + LABELS)]
    model = build_ensemble([transformer.version, tfidf.version], None, data, step=0.25)
    search = model.card["selection_search"]
    assert [r["weights"] for r in search] == [[1.0, 0.0], [0.75, 0.25], [0.5, 0.5], [0.25, 0.75], [0.0, 1.0]]
    best = max(r["macro_f1"] for r in search)
    assert list(model.weights) == next(r["weights"] for r in search if r["macro_f1"] == best)
    from models.evaluate import evaluate

    assert round(evaluate(model, *data[0])["macro_f1"], 4) == best  # what it was chosen for
    assert model.calib_scores[0] == {
        k: v for k, v in evaluate(model, *data[0]).items() if k != "model_version"
    }


def test_train_cli_builds_an_ensemble_from_reviewed_labels(members, model_dir, tmp_path: Path):
    from typer.testing import CliRunner

    from suara.cli import app

    _, transformer, tfidf = members
    labels = tmp_path / "mine.jsonl"  # what `suara review labels --task sentiment` writes
    labels.write_text(
        "".join(
            json.dumps({"id": f"item-{i}", "text": t, "sentiment": lab}) + "\n"
            for i, (t, lab) in enumerate(HELD_OUT)
        ),
        encoding="utf-8",
    )
    runner = CliRunner()

    def train(*args):
        return runner.invoke(app, ["train", "sentiment", "--kind", "ensemble", *map(str, args)])

    out = train(
        "--member", transformer.version, "--member", tfidf.version, "--valid", labels, "--name", "mine"
    )
    assert out.exit_code == 0, out.output
    path = Path(out.stdout.strip().splitlines()[-1])
    assert path.parent == model_dir / "mine" and (path / "README.md").is_file()
    config = json.loads((path / "config.json").read_text())
    assert abs(sum(m["weight"] for m in config["members"]) - 1) < 1e-6 and "mine.jsonl" in config["selection"]
    assert config["metrics"]["mine"]["n"] == len(HELD_OUT)
    loaded = SentimentModel.from_pretrained("mine", model_dir=model_dir)
    assert loaded.version == config["version"] and loaded.predict(["x"])[0] in loaded.labels
    from models.evaluate import evaluate

    scored = evaluate(loaded, [t for t, _ in HELD_OUT], [lab for _, lab in HELD_OUT])
    assert config["metrics"]["mine"]["macro_f1"] == scored["macro_f1"]  # the card's scores are the model's
    given = train(
        "--member", transformer.version, "--member", tfidf.version, "--weight", 0.7, "--weight", 0.3
    )
    assert given.exit_code == 0, given.output
    config = json.loads((Path(given.stdout.strip().splitlines()[-1]) / "config.json").read_text())
    assert [m["weight"] for m in config["members"]] == [0.7, 0.3]
    bad = train("--member", transformer.version, "--member", tfidf.version)
    assert bad.exit_code == 2 and "--weight per member, or --valid" in bad.output
    bad = train("--member", transformer.version, "--weight", 1)
    assert bad.exit_code == 2 and "two or more --member" in bad.output
    bad = runner.invoke(app, ["train", "sentiment", "--member", tfidf.version])
    assert bad.exit_code == 2 and "apply to --kind ensemble" in bad.output
