"""A weighted ensemble of sentiment models: the weighted geometric mean of their calibrated probabilities,
calibrated again with one temperature.

>>> model = build_ensemble(["sentiment-e5-lora-…", "sentiment-tfidf-…"], [0.6, 0.4], [(texts, labels)])
>>> model.save_pretrained("models/released/sentiment-e5-tfidf/" + model.version)
>>> SentimentModel.from_pretrained("sentiment-e5-tfidf+onnx-int8")   # its transformer member on ONNX int8

The directory holds no weights: ``config.json`` names each member by version (a released model, or a trained
one in the settings' model directory) with its weight. A runtime suffix applies to the transformer members, and
the ensemble's version carries it as a transformer's does. ``embedder_name`` and
``predict_detailed_with_vectors`` come from the transformer member, so a topic model trained on that member's
vectors still shares its encoder pass.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from models import registry
from models.calibration import fit_temperature, softmax
from models.sentiment import Prediction, SentimentModel, split_runtime
from suara.errors import ModelError

EPS = 1e-7  # probabilities are clipped here before the logarithm
REVIEW_THRESHOLD = 0.6
_CARD_KEYS = ("created_at", "metrics", "selection", "selection_search", "calibration")


def blend(weights: Sequence[float], probas: Sequence[np.ndarray]) -> np.ndarray:
    """The weighted sum of the log-probabilities (clipped at ``EPS``, so one model's certainty cannot veto the
    others): an ensemble's uncalibrated logits, for ``weights`` that sum to 1."""
    out = np.zeros_like(np.asarray(probas[0], dtype=np.float64))
    for w, p in zip(weights, probas, strict=True):
        out += w * np.log(np.clip(np.asarray(p, dtype=np.float64), EPS, 1.0))
    return out


class EnsembleSentimentModel(SentimentModel):
    kind = "ensemble"

    def __init__(
        self,
        members: Sequence[SentimentModel],
        weights: Sequence[float],
        *,
        name: str,
        version: str,
        temperature: float = 1.0,
        review_threshold: float = REVIEW_THRESHOLD,
        card: dict[str, Any] | None = None,
    ):
        if not members or len(members) != len(weights):
            raise ModelError(
                f"an ensemble needs one weight per member: {len(members)} members, {len(weights)}"
            )
        w = np.asarray(weights, dtype=np.float64)
        if (w < 0).any() or w.sum() <= 0:
            raise ModelError(f"ensemble weights must be >= 0 and not all 0: {list(weights)}")
        labels = members[0].labels
        for m in members[1:]:
            if m.labels != labels:
                raise ModelError(f"{m.version} has labels {m.labels}, {members[0].version} has {labels}")
        super().__init__(labels=labels, name=name, version=version, card=card)
        self.members = list(members)
        self.weights = w / w.sum()
        self.temperature = float(temperature)
        self.review_threshold = float(review_threshold)
        # ``build_ensemble``: its scores on each labelled set it was calibrated on (from the members' one pass)
        self.calib_scores: list[dict[str, Any]] = []

    # -- prediction ---------------------------------------------------------------------------------------------
    def blend(self, probas: Sequence[np.ndarray]) -> np.ndarray:
        """The members' probabilities (one array per member, in member order) as the ensemble's logits."""
        return blend(self.weights, probas)

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Uncalibrated logits, one row per text (what temperature fitting needs)."""
        return self.blend([m.predict_proba(list(texts)) for m in self.members])

    def _proba(self, texts: list[str]) -> np.ndarray:
        return softmax(self.logits(texts), self.temperature)

    def _encoder(self) -> SentimentModel | None:
        return next((m for m in self.members if getattr(m, "embedder_name", None)), None)

    @property
    def embedder_name(self) -> str | None:  # type: ignore[override]
        """Its transformer member's (``sentiment:<member version>``): topic models trained on that member's
        vectors share the ensemble's encoder pass."""
        encoder = self._encoder()
        return None if encoder is None else encoder.embedder_name

    def as_embedder(self) -> Any:
        """Its transformer member's encoder as a ``models.embeddings.Embedder`` named ``embedder_name``."""
        encoder = self._encoder()
        if encoder is None:
            raise ModelError(f"{self.version} has no transformer member to give sentence vectors")
        return encoder.as_embedder()  # type: ignore[attr-defined]

    def predict_detailed_with_vectors(self, texts: Sequence[str]) -> tuple[list[Prediction], np.ndarray]:
        """``predict_detailed`` and the transformer member's sentence vectors from the same pass."""
        encoder = self._encoder()
        if encoder is None:
            return super().predict_detailed_with_vectors(texts)
        texts = list(texts)
        preds, vectors = encoder.predict_detailed_with_vectors(texts)
        if not texts:
            return [], vectors
        own = np.array([[p.scores[lab] for lab in self.labels] for p in preds])
        probas = [own if m is encoder else m.predict_proba(texts) for m in self.members]
        return self.details(softmax(self.blend(probas), self.temperature)), vectors

    def needs_review(self, proba: np.ndarray) -> np.ndarray:
        """True where the calibrated confidence is below ``review_threshold``: items worth a human look."""
        return np.asarray(proba).max(axis=1) < self.review_threshold

    # -- runtimes -----------------------------------------------------------------------------------------------
    def with_runtime(self, runtime: str) -> EnsembleSentimentModel:
        """The ensemble with its transformer members on ``runtime`` (``int8``, ``onnx``, ``onnx-int8``)."""
        if not any(m.kind == "transformer" for m in self.members):
            raise ModelError(f"{self.name} has no transformer member to run on {runtime!r}")
        members = [m.with_runtime(runtime) if m.kind == "transformer" else m for m in self.members]
        return self._with(members, runtime)

    def _with(self, members: list[SentimentModel], runtime: str) -> EnsembleSentimentModel:
        base = split_runtime(self.version)[0]
        return EnsembleSentimentModel(
            members,
            self.weights,
            name=self.name,
            version=f"{base}+{runtime}" if runtime else base,
            temperature=self.temperature,
            review_threshold=self.review_threshold,
            card=self.card,
        )

    @classmethod
    def _load_runtime(cls, path: Path, config: dict[str, Any], runtime: str) -> EnsembleSentimentModel:
        # each transformer member loads straight on the runtime (ONNX from its cached export), never via torch
        return cls._load(path, config, runtime)

    # -- persistence --------------------------------------------------------------------------------------------
    def save_pretrained(self, path: Path | str) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        config = {
            "kind": self.kind,
            "task": "sentiment",
            "name": self.name,
            "version": split_runtime(self.version)[0],
            "labels": list(self.labels),
            "members": [
                {"model": split_runtime(m.version)[0], "kind": m.kind, "weight": round(float(w), 6)}
                for m, w in zip(self.members, self.weights, strict=True)
            ],
            "temperature": self.temperature,
            "review_threshold": self.review_threshold,
            "libraries": registry.library_versions(),
            **{k: v for k, v in self.card.items() if k in _CARD_KEYS},
        }
        registry.write_config(path, config)
        write_ensemble_card(config, path)
        return path

    @classmethod
    def _load(cls, path: Path, config: dict[str, Any], runtime: str = "") -> EnsembleSentimentModel:
        specs = config.get("members") or []
        if runtime and not any(m.get("kind") == "transformer" for m in specs):
            raise ModelError(f"{config.get('name')} has no transformer member to run on {runtime!r}")
        from suara.config import get_settings

        model_dir = (
            get_settings().model_dir
        )  # members are found among the trained models too, not only released
        members = []
        for m in specs:
            ref = m["model"] + (f"+{runtime}" if runtime and m.get("kind") == "transformer" else "")
            try:
                members.append(SentimentModel.from_pretrained(ref, model_dir=model_dir))
            except ModelError as exc:
                raise ModelError(f"{path}: its member {m['model']!r} cannot be loaded: {exc}") from exc
        return cls(
            members,
            [float(m["weight"]) for m in specs],
            name=config["name"],
            version=config["version"] + (f"+{runtime}" if runtime else ""),
            temperature=float(config.get("temperature", 1.0)),
            review_threshold=float(config.get("review_threshold", REVIEW_THRESHOLD)),
            card={k: v for k, v in config.items() if k in _CARD_KEYS},
        )


def build_ensemble(
    refs: Sequence[str],
    weights: Sequence[float] | None,
    calib: Sequence[tuple[Sequence[str], Sequence[str]]],
    *,
    name: str = "sentiment-ensemble",
    card: dict[str, Any] | None = None,
    model_dir: Path | None = None,
    step: float = 0.1,
) -> EnsembleSentimentModel:
    """The ensemble of the models ``refs`` (found among the released ones and in ``model_dir``, by default the
    settings'; a ``+runtime`` suffix loads a transformer on it) with ``weights``; its temperature is fitted on
    the (texts, labels) sets ``calib``, each counting equally however many rows it has; its scores on each of
    them are kept in ``calib_scores`` (the members run once over them).

    ``weights=None`` chooses them on ``calib`` too: every combination on a grid of ``step`` (weights summing to
    1), the best mean macro-F1 over the sets, ties to the weights listed first; the card keeps the search."""
    if model_dir is None:
        from suara.config import get_settings

        model_dir = get_settings().model_dir
    if len(refs) < 2:
        raise ModelError(f"an ensemble needs two or more members, not {len(refs)}")
    if weights is not None and len(weights) != len(refs):
        raise ModelError(f"{len(weights)} weights for {len(refs)} members")
    members = [SentimentModel.from_pretrained(r, model_dir=model_dir) for r in refs]
    labels = members[0].labels
    for _, gold in calib:
        unknown = sorted(set(gold) - set(labels))
        if unknown:
            raise ModelError(f"calibration labels {unknown} are not the models' labels {list(labels)}")
    if weights is None and not calib:
        raise ModelError("give the weights, or labelled data to choose them on")
    probas = [[m.predict_proba(list(texts)) for m in members] for texts, _ in calib]
    card = {"created_at": datetime.now(UTC).isoformat(timespec="seconds"), **(card or {})}
    if weights is None:
        weights, card["selection_search"] = _choose_weights(members, probas, calib, step)
    key = json.dumps([[m.version for m in members], [round(float(w), 6) for w in weights]])
    model = EnsembleSentimentModel(
        members,
        weights,
        name=name,
        version=registry.new_version(name, hashlib.sha256(key.encode()).hexdigest()),
        card=card,
    )
    if calib:
        from models.evaluate import score

        per_set = [model.blend(p) for p in probas]
        # Temperature does not move the argmax: these are the calibrated model's labels too.
        model.calib_scores = [
            score(list(gold), [labels[i] for i in np.argmax(lg, axis=1)], labels)
            for lg, (_, gold) in zip(per_set, calib, strict=True)
        ]
        logits = np.vstack(per_set)
        y = [labels.index(lab) for _, gold in calib for lab in gold]
        w = np.concatenate([np.full(len(gold), 1.0 / len(gold)) for _, gold in calib])
        model.temperature = fit_temperature(logits, y, w)
    model.card["calibration"] = {
        "rows": sum(len(g) for _, g in calib),
        "temperature": round(model.temperature, 4),
    }
    return model


def _choose_weights(
    members: Sequence[SentimentModel],
    probas: Sequence[Sequence[np.ndarray]],
    calib: Sequence[tuple[Sequence[str], Sequence[str]]],
    step: float,
) -> tuple[list[float], list[dict[str, Any]]]:
    from models.evaluate import score

    labels = list(members[0].labels)
    n = round(1 / step)
    grid = [c for c in itertools.product(range(n + 1), repeat=len(members)) if sum(c) == n]
    searched = []
    for combo in sorted(grid, reverse=True):  # the first members' heavier weights first: ties go to them
        w = [c / n for c in combo]
        f1s = []
        for (_, gold), p in zip(calib, probas, strict=True):
            f1s.append(
                score(list(gold), [labels[i] for i in np.argmax(blend(w, p), axis=1)], labels)["macro_f1"]
            )
        searched.append({"weights": w, "macro_f1": round(float(np.mean(f1s)), 4)})
    best = max(searched, key=lambda r: r["macro_f1"])  # max keeps the first of equals
    return best["weights"], searched


def write_ensemble_card(config: dict[str, Any], path: Path) -> None:
    """README.md of an ensemble: its members and weights, how they were chosen, its metrics."""
    lines = [
        f"# {config['version']}",
        "",
        f"Kind: `ensemble` · task: sentiment · labels: {', '.join(config['labels'])}.",
        "",
        "The weighted geometric mean of its members' calibrated probabilities, calibrated again by temperature",
        f"scaling (T = {config['temperature']:.3f}). No weights of its own: each member is a model directory.",
        "Load it with `SentimentModel.from_pretrained(path_or_version)`, or `…+onnx-int8` to run its",
        "transformer member on ONNX Runtime int8.",
        "",
        "## Members",
        "",
        "| model | kind | weight |",
        "|---|---|---|",
        *(f"| `{m['model']}` | {m['kind']} | {m['weight']:.2f} |" for m in config["members"]),
    ]
    if config.get("selection"):
        lines += ["", "## How the weights were chosen", "", str(config["selection"])]
    metrics = config.get("metrics") or {}
    if metrics:
        lines += [
            "",
            "## Metrics (macro-F1)",
            "",
            "| set | runtime | n | accuracy | macro-F1 |",
            "|---|---|---|---|---|",
        ]
        for key, m in metrics.items():
            lines.append(
                f"| {key} | {m.get('runtime', 'fp32')} | {m['n']} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} |"
            )
    lines.append("")
    (Path(path) / "README.md").write_text("\n".join(lines), encoding="utf-8")
