"""Training entry points: data in, a versioned model directory with its card out.

>>> path = train_sentiment_tfidf([smsa / "train.tsv"], evaluations={"smsa-valid": smsa / "valid.tsv"},
...                              out_root=Path("model_store"))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from models import registry
from models.data import load_labelled
from models.evaluate import evaluate
from models.sentiment import SentimentModel
from models.tfidf import TfidfArgs, TfidfSentimentModel

DATA_NOTES = {
    "smsa": "SmSA (IndoNLU), Purwarianti & Crisdayanti 2019; Wilie et al. 2020",
    "nusax": "NusaX-senti, Winata et al. 2023, CC BY-SA 4.0",
    "prdect": "PRDECT-ID, Sutoyo et al. 2022, CC BY 4.0",
    "topics": "Suara public-service feedback labels (development use only)",
}


def _describe(path: Path, n: int) -> dict[str, Any]:
    note = next((v for k, v in DATA_NOTES.items() if k in str(path).lower()), "")
    return {"file": f"{path.parent.name}/{path.name}", "rows": n, "source": note}


def train_sentiment_tfidf(
    train_paths: Sequence[Path],
    *,
    evaluations: Mapping[str, Path] | None = None,
    out_root: Path,
    args: TfidfArgs | None = None,
    name: str = "sentiment-tfidf",
) -> Path:
    """Train, evaluate on each named set, save under ``out_root/<name>/<version>`` with a model card."""
    texts: list[str] = []
    labels: list[str] = []
    data = []
    for p in train_paths:
        t, lab = load_labelled(p)
        texts += t
        labels += lab
        data.append(_describe(Path(p), len(t)))
    model = TfidfSentimentModel.train(texts, labels, args, name=name, card={"training_data": data})
    metrics = {}
    for set_name, p in (evaluations or {}).items():
        t, lab = load_labelled(p)
        metrics[set_name] = {k: v for k, v in evaluate(model, t, lab).items() if k != "model_version"}
    model.card["metrics"] = metrics
    path = model.save_pretrained(Path(out_root) / name / model.version)
    write_model_card(model, path)
    return path


def write_model_card(model: SentimentModel, path: Path) -> None:
    """A short README.md: what the model is, what it was trained on, how well it does, what it needs."""
    lines = [
        f"# {model.version}",
        "",
        f"Kind: `{getattr(model, 'kind', '?')}` · task: sentiment · labels: {', '.join(model.labels)}.",
        "",
        "Load it with `SentimentModel.from_pretrained(path_or_version)`.",
        "",
        "## Training data",
        "",
    ]
    for d in model.card.get("training_data", []):
        lines.append(f"- `{d['file']}`: {d['rows']} rows. {d['source']}")
    lines += [
        "",
        "## Metrics",
        "",
        "| set | n | accuracy | macro-F1 | F1 neg / neu / pos |",
        "|---|---|---|---|---|",
    ]
    for set_name, m in model.card.get("metrics", {}).items():
        pc = m["per_class_f1"]
        lines.append(
            f"| {set_name} | {m['n']} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | "
            f"{pc.get('negative', 0):.2f} / {pc.get('neutral', 0):.2f} / {pc.get('positive', 0):.2f} |"
        )
    libs = registry.read_config(path).get("libraries") or {}
    if libs:
        lines += ["", "## Libraries", "", ", ".join(f"{k} {v}" for k, v in libs.items())]
    lines += [
        "",
        "## Limits",
        "",
        "Trained mostly on reviews; informal public-service questions may lean negative. Use the transformer model",
        "for accuracy and this one for bulk backfills.",
        "",
    ]
    (Path(path) / "README.md").write_text("\n".join(lines), encoding="utf-8")
