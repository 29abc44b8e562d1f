"""The sentiment model API every kind follows (TF-IDF baseline now, transformers later).

>>> model = SentimentModel.from_pretrained("sentiment-tfidf")
>>> model.predict(["aplikasinya lemot banget, otp gk masuk2"])
['negative']
>>> model.predict_proba("makasih min, insentif udh cair")  # columns follow model.labels
array([[0.03, 0.05, 0.92]])
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from models import registry
from suara.errors import ModelError

TASK = "sentiment"


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    scores: dict[str, float]


class SentimentModel(ABC):
    """Base class: ``from_pretrained`` picks the implementation from the directory's ``config.json``."""

    kind: ClassVar[str]
    task: ClassVar[str] = TASK  # what its stored predictions are filed under
    _kinds: ClassVar[dict[str, type[SentimentModel]]] = {}

    def __init__(self, *, labels: Sequence[str], name: str, version: str, card: dict[str, Any] | None = None):
        self.labels = tuple(labels)
        self.name = name
        self.version = version
        self.card = dict(card or {})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("kind"):  # only a class that names its own kind; runtime views inherit theirs
            SentimentModel._kinds[cls.kind] = cls

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, *, model_dir: Path | None = None) -> SentimentModel:
        """Load a model by directory, version or name (see ``models.registry.resolve``).

        A runtime suffix picks how a transformer model runs: ``name+int8`` (torch dynamic int8),
        ``name+onnx`` (ONNX Runtime fp32), ``name+onnx-int8`` (ONNX Runtime int8); the loaded model's version
        carries the suffix, so stored predictions say which runtime made them.
        """
        name, runtime = split_runtime(name_or_path)
        path = registry.resolve(name, model_dir)
        config = registry.read_config(path)
        impl = cls._implementation(path, config)
        if runtime and (ready := impl._load_runtime(path, config, runtime)) is not None:
            return ready
        model = impl._load(path, config)
        return model.with_runtime(runtime) if runtime else model

    @classmethod
    def _implementation(cls, path: Path, config: dict[str, Any]) -> type[SentimentModel]:
        kind = config.get("kind")
        if config.get("task", TASK) != TASK:
            raise ModelError(
                f"{config.get('version', path)} is a {config['task']} model, not a sentiment model"
                + (" (pass it as the topic model: --topics-model)" if config["task"] == "topics" else "")
            )
        impl = SentimentModel._kinds.get(kind)
        if impl is None:
            _import_known_kinds(kind if kind in _KIND_MODULES else None)
            impl = SentimentModel._kinds.get(kind)
        if impl is None:
            raise ModelError(f"{path}: unknown model kind {kind!r}; known: {sorted(SentimentModel._kinds)}")
        return impl

    @classmethod
    @abstractmethod
    def _load(cls, path: Path, config: dict[str, Any]) -> SentimentModel: ...

    @classmethod
    def _load_runtime(cls, path: Path, config: dict[str, Any], runtime: str) -> SentimentModel | None:
        """A shortcut to the model on ``runtime`` without loading it the usual way first; None: no shortcut."""
        return None

    def with_runtime(self, runtime: str) -> SentimentModel:
        """This model on another runtime (see ``from_pretrained``); only transformer models have any."""
        raise ModelError(
            f"{self.name} ({self.kind}) has no runtime {runtime!r}; runtimes are for transformers"
        )

    @abstractmethod
    def save_pretrained(self, path: Path | str) -> Path: ...

    @abstractmethod
    def _proba(self, texts: list[str]) -> np.ndarray: ...

    def predict_proba(self, texts: str | Sequence[str]) -> np.ndarray:
        """Probabilities, one row per text, columns in ``self.labels`` order."""
        batch = [texts] if isinstance(texts, str) else list(texts)
        if not batch:
            return np.zeros((0, len(self.labels)))
        return self._proba(batch)

    def predict(self, texts: str | Sequence[str]) -> list[str]:
        """Labels, one per text: ``predict(["aplikasinya lemot banget"]) -> ["negative"]``."""
        proba = self.predict_proba(texts)
        return [self.labels[i] for i in proba.argmax(axis=1)]

    def predict_detailed(self, texts: Sequence[str]) -> list[Prediction]:
        """Label, confidence and every class score per text (what the store keeps)."""
        return self.details(self.predict_proba(list(texts)))

    #: The embedder name of this model's sentence vectors (``sentiment:<version>``); None: it gives none.
    embedder_name: str | None = None

    def predict_detailed_with_vectors(self, texts: Sequence[str]) -> tuple[list[Prediction], np.ndarray]:
        """``predict_detailed`` plus the sentence vectors of the same pass, for models that have an encoder."""
        raise ModelError(f"{self.version} gives no sentence vectors (a {self.kind} model has no encoder)")

    def details(self, proba: np.ndarray) -> list[Prediction]:
        """Predictions from calibrated probabilities (rows in ``self.labels`` order)."""
        return [
            Prediction(
                label=self.labels[int(row.argmax())],
                confidence=float(row.max()),
                scores={lab: round(float(p), 6) for lab, p in zip(self.labels, row, strict=True)},
            )
            for row in proba
        ]


RUNTIMES = ("int8", "onnx", "onnx-int8")


def split_runtime(name_or_path: str | Path) -> tuple[str, str]:
    """``("sentiment-e5-lora", "onnx-int8")`` from ``"sentiment-e5-lora+onnx-int8"``; paths are left whole."""
    text = str(name_or_path)
    base, plus, runtime = text.rpartition("+")
    if not plus or runtime not in RUNTIMES or (Path(text).expanduser() / registry.CONFIG_FILE).is_file():
        return text, ""
    return base, runtime


_KIND_MODULES = {
    "tfidf-logreg": "models.tfidf",
    "transformer": "models.transformer",
    "ensemble": "models.ensemble",
}


def _import_known_kinds(kind: str | None = None) -> None:
    # Implementations register themselves on import; only the one asked for is imported, so loading the
    # TF-IDF model never imports torch.
    import importlib

    for k, module in _KIND_MODULES.items():
        if kind is None or k == kind:
            importlib.import_module(module)
