"""Metrics of a probabilistic binary classifier: precision / recall / F1 at a threshold, AUROC, ECE."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

ECE_BINS = 15


@dataclass(frozen=True)
class BinaryMetrics:
    n: int
    positives: int
    precision: float
    recall: float
    f1: float
    auroc: float
    ece: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            key: (round(value, 4) if isinstance(value, float) else value)
            for key, value in asdict(self).items()
        }


def auroc(labels: npt.NDArray[np.bool_], scores: npt.NDArray[np.float64]) -> float:
    """Area under the ROC curve by the rank-sum formula (ties get average ranks)."""
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    start = 0
    while start < len(scores):  # average ranks over ties
        end = start
        while end + 1 < len(scores) and sorted_scores[end + 1] == sorted_scores[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2.0 + 1.0
        start = end + 1
    rank_sum = float(ranks[labels].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def expected_calibration_error(
    labels: npt.NDArray[np.bool_], scores: npt.NDArray[np.float64], bins: int = ECE_BINS
) -> float:
    """ECE with equal-width bins: the weighted gap between mean score and observed frequency."""
    if len(labels) == 0:
        return float("nan")
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(scores, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            total += in_bin.sum() * abs(float(scores[in_bin].mean()) - float(labels[in_bin].mean()))
    return total / len(labels)


def binary_metrics(labels: list[bool], scores: list[float], threshold: float) -> BinaryMetrics:
    y = np.asarray(labels, dtype=bool)
    p = np.asarray(scores, dtype=np.float64)
    predicted = p > threshold  # strict, as the decision rule
    true_positives = int((predicted & y).sum())
    precision = true_positives / int(predicted.sum()) if predicted.any() else float("nan")
    recall = true_positives / int(y.sum()) if y.any() else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return BinaryMetrics(
        n=len(y),
        positives=int(y.sum()),
        precision=precision,
        recall=recall,
        f1=f1,
        auroc=auroc(y, p),
        ece=expected_calibration_error(y, p),
    )
