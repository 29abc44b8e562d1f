"""Calibration: make a model's confidence mean what it says.

>>> t = fit_temperature(valid_logits, valid_labels)      # e.g. 1.8 for an over-confident model
>>> expected_calibration_error(softmax(test_logits, t), test_labels)
0.021

Temperature scaling (Guo et al. 2017) divides the logits by one scalar ``T`` fitted to minimise the negative
log-likelihood on held-out data: it keeps every prediction (argmax) and only reshapes the confidences.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize_scalar

T_BOUNDS = (0.05, 20.0)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def nll(
    logits: np.ndarray, labels: Sequence[int], temperature: float = 1.0, weights: np.ndarray | None = None
) -> float:
    """Mean (or ``weights``-weighted mean) negative log-likelihood of the true labels."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    y = np.asarray(labels)
    return float(-np.average(log_p[np.arange(len(y)), y], weights=weights))


def fit_temperature(logits: np.ndarray, labels: Sequence[int], weights: np.ndarray | None = None) -> float:
    """The ``T`` in ``T_BOUNDS`` minimising the NLL of ``softmax(logits / T)`` (searched on log T).

    ``weights`` lets several sets count equally however many rows each has.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if len(logits) == 0:
        return 1.0
    res = minimize_scalar(
        lambda log_t: nll(logits, labels, float(np.exp(log_t)), weights),
        bounds=tuple(np.log(T_BOUNDS)),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(res.x))


def expected_calibration_error(proba: np.ndarray, labels: Sequence[int], n_bins: int = 15) -> float:
    """ECE: the gap between confidence and accuracy, averaged over equal-width confidence bins."""
    proba = np.asarray(proba)
    if len(proba) == 0:
        return 0.0
    conf = proba.max(axis=1)
    correct = proba.argmax(axis=1) == np.asarray(labels)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - conf[in_bin].mean())
    return float(ece)
