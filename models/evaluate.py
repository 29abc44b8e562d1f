"""Scores for a labelled set: accuracy, macro-F1, per-class F1, confusion matrix.

>>> evaluate(model, ["otp gk masuk"], ["negative"])["macro_f1"]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from models.sentiment import SentimentModel


def score(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    labels = list(labels)
    per_class = f1_score(gold, pred, labels=labels, average=None, zero_division=0)
    return {
        "n": len(gold),
        "accuracy": round(float(accuracy_score(gold, pred)), 4),
        "macro_f1": round(float(f1_score(gold, pred, labels=labels, average="macro", zero_division=0)), 4),
        "per_class_f1": {lab: round(float(v), 4) for lab, v in zip(labels, per_class, strict=True)},
        "confusion_matrix": {
            "labels": labels,
            "rows_are": "gold",
            "matrix": confusion_matrix(gold, pred, labels=labels).tolist(),
        },
    }


def evaluate(model: SentimentModel, texts: Sequence[str], gold: Sequence[str]) -> dict[str, Any]:
    """Score ``model`` on ``texts``; the result names the model version that was scored."""
    result = score(gold, model.predict(list(texts)), model.labels)
    result["model_version"] = model.version
    return result
