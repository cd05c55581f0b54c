"""The embedded urgency model: a softmax over intents on hashed n-grams, read from a compact ``.npz``.

Classes are the project's Urgent intents one by one plus "other" classes; P(Urgent) is the sum of the Urgent
classes' probabilities, then a Platt calibration (fitted on held-out data at training time) makes it a
calibrated probability. One class per Urgent intent matters: a single urgent-vs-rest hyperplane cannot
separate "my card was stolen" from "my card has not arrived" as well as intents that compete with each other.

The runtime needs numpy only: no scikit-learn and no download (the artifact ships inside the layer).
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from email2chat.classifier.features import (
    HashedFeaturiser,
    bigram_hash,
    char_ngram_hashes,
    token_hash,
    tokenize,
)
from email2chat.errors import ModelArtifactError

ARTIFACT_DIR = Path(__file__).resolve().parent / "artifact"
DEFAULT_ARTIFACT = ARTIFACT_DIR / "urgency_model.npz"
ARTIFACT_FORMAT = 1
_FIXED_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # zip entries carry no wall-clock time: same data, same bytes

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ModelParameters:
    """Everything the runtime needs; written by training, read by ``UrgencyModel``."""

    bits: int
    classes: tuple[str, ...]
    urgent_classes: tuple[str, ...]
    weights: npt.NDArray[np.float16]  # (2**bits, n_classes)
    bias: FloatArray  # (n_classes,)
    platt_slope: float
    platt_intercept: float

    def write(self, path: Path) -> None:
        """Write the artifact byte-for-byte reproducibly (fixed zip dates, fixed member order)."""
        arrays: dict[str, np.ndarray] = {
            "format": np.array([ARTIFACT_FORMAT], dtype=np.int32),
            "bits": np.array([self.bits], dtype=np.int32),
            "classes": np.array(self.classes, dtype="<U64"),
            "urgent_classes": np.array(self.urgent_classes, dtype="<U64"),
            "weights": np.ascontiguousarray(self.weights, dtype=np.float16),
            "bias": np.ascontiguousarray(self.bias, dtype=np.float32),
            "platt": np.array([self.platt_slope, self.platt_intercept], dtype=np.float64),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for name, array in arrays.items():
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, array, allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}.npy", date_time=_FIXED_ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, buffer.getvalue(), compresslevel=9)

    @classmethod
    def read(cls, path: Path) -> ModelParameters:
        try:
            with np.load(path, allow_pickle=False) as data:
                if int(data["format"][0]) != ARTIFACT_FORMAT:
                    raise ModelArtifactError(
                        f"{path}: artifact format {int(data['format'][0])} not supported"
                    )
                platt = data["platt"]
                return cls(
                    bits=int(data["bits"][0]),
                    classes=tuple(str(c) for c in data["classes"]),
                    urgent_classes=tuple(str(c) for c in data["urgent_classes"]),
                    weights=data["weights"],
                    bias=data["bias"].astype(np.float32),
                    platt_slope=float(platt[0]),
                    platt_intercept=float(platt[1]),
                )
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise ModelArtifactError(f"cannot read the urgency model artifact {path}: {exc}") from exc


@dataclass(frozen=True)
class TokenDriver:
    """How much one token of the text pushed the score toward Urgent (log-odds units)."""

    index: int
    contribution: float


class UrgencyModel:
    """Scores model text (already normalised) with the artifact's parameters."""

    def __init__(self, parameters: ModelParameters) -> None:
        self.parameters = parameters
        self.featuriser = HashedFeaturiser(parameters.bits)
        self._mask = self.featuriser.n_buckets - 1
        # float32 in memory: float16 halves the artifact, but float32 gathers are faster and exact enough.
        self._weights = parameters.weights.astype(np.float32)
        self._bias = parameters.bias
        urgent = set(parameters.urgent_classes)
        unknown = urgent - set(parameters.classes)
        if unknown:
            raise ModelArtifactError(f"urgent classes not in the model: {sorted(unknown)}")
        self._urgent_mask = np.array([c in urgent for c in parameters.classes], dtype=bool)
        self._token_features = lru_cache(maxsize=200_000)(self._token_features_uncached)

    @classmethod
    def load(cls, path: Path | None = None) -> UrgencyModel:
        return cls(ModelParameters.read(path or DEFAULT_ARTIFACT))

    # --- features, cached per token: an email's words repeat across emails, their n-grams need hashing once
    def _token_features_uncached(self, token: str) -> tuple[int, tuple[int, ...]]:
        mask = self._mask
        return token_hash(token), tuple(h & mask for h in char_ngram_hashes(token))

    def _features(self, tokens: list[str]) -> tuple[list[int], list[float], list[int]]:
        """Indices, values and the owning token of each feature (bigrams belong to their left token)."""
        mask = self._mask
        cached = [self._token_features(token) for token in tokens]
        word_indices = [h & mask for h, _ in cached]
        word_owner = list(range(len(tokens)))
        for position in range(len(cached) - 1):
            word_indices.append(bigram_hash(cached[position][0], cached[position + 1][0]) & mask)
            word_owner.append(position)
        char_indices: list[int] = []
        char_owner: list[int] = []
        for position, (_, chars) in enumerate(cached):
            char_indices.extend(chars)
            char_owner.extend([position] * len(chars))
        values: list[float] = []
        if word_indices:
            values += [1.0 / math.sqrt(len(word_indices))] * len(word_indices)
        if char_indices:
            values += [1.0 / math.sqrt(len(char_indices))] * len(char_indices)
        return word_indices + char_indices, values, word_owner + char_owner

    def _logits(self, indices: list[int], values: list[float]) -> FloatArray:
        if not indices:
            return self._bias.copy()
        gathered = self._weights[np.asarray(indices, dtype=np.intp)]
        return self._bias + np.asarray(values, dtype=np.float32) @ gathered  # type: ignore[no-any-return]

    def _calibrated(self, logits: FloatArray) -> float:
        shifted = logits.astype(np.float64) - float(np.max(logits))
        exp = np.exp(shifted)
        urgent_mass = float(exp[self._urgent_mask].sum())
        other_mass = float(exp[~self._urgent_mask].sum())
        # log-odds of Urgent computed from the masses directly: no 0/1 clipping of probabilities needed.
        raw_log_odds = math.log(max(urgent_mass, 1e-300)) - math.log(max(other_mass, 1e-300))
        z = self.parameters.platt_slope * raw_log_odds + self.parameters.platt_intercept
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))

    def raw_log_odds(self, text: str) -> float:
        """Uncalibrated log-odds of Urgent (what training calibrates)."""
        indices, values, _ = self._features(tokenize(text))
        logits = self._logits(indices, values).astype(np.float64)
        shifted = np.exp(logits - logits.max())
        return math.log(max(float(shifted[self._urgent_mask].sum()), 1e-300)) - math.log(
            max(float(shifted[~self._urgent_mask].sum()), 1e-300)
        )

    def score(self, text: str) -> float:
        """Calibrated probability that ``text`` (normalised model text) is Urgent."""
        indices, values, _ = self._features(tokenize(text))
        return self._calibrated(self._logits(indices, values))

    def score_with_drivers(self, text: str) -> tuple[float, list[TokenDriver]]:
        """The score and each token's push toward Urgent.

        The push is measured on the linear margin between the strongest Urgent class and the strongest other
        class, which is what the softmax decision turns on; it is exact for that margin.
        """
        tokens = tokenize(text)
        indices, values, owners = self._features(tokens)
        logits = self._logits(indices, values)
        score = self._calibrated(logits)
        if not indices:
            return score, []
        classes = np.arange(len(logits))
        best_urgent = int(classes[self._urgent_mask][np.argmax(logits[self._urgent_mask])])
        best_other = int(classes[~self._urgent_mask][np.argmax(logits[~self._urgent_mask])])
        direction = self._weights[:, best_urgent] - self._weights[:, best_other]
        per_feature = np.asarray(values, dtype=np.float32) * direction[np.asarray(indices, dtype=np.intp)]
        per_token = np.bincount(np.asarray(owners, dtype=np.intp), weights=per_feature, minlength=len(tokens))
        return score, [TokenDriver(i, float(c)) for i, c in enumerate(per_token)]

    def score_many(self, texts: list[str]) -> list[float]:
        """Bulk scoring: one gather and one segmented sum for the whole batch."""
        if not texts:
            return []
        all_indices: list[int] = []
        all_values: list[float] = []
        starts: list[int] = []  # where each non-empty text's features start
        non_empty: list[int] = []
        for position, text in enumerate(texts):
            indices, values, _ = self._features(tokenize(text))
            if indices:
                starts.append(len(all_indices))
                non_empty.append(position)
                all_indices.extend(indices)
                all_values.extend(values)
        logits = np.tile(self._bias, (len(texts), 1))
        if non_empty:
            contributions = (
                self._weights[np.asarray(all_indices, dtype=np.intp)]
                * np.asarray(all_values, dtype=np.float32)[:, None]
            )
            logits[np.asarray(non_empty)] += np.add.reduceat(contributions, np.asarray(starts), axis=0)
        return [self._calibrated(row) for row in logits]


def read_model_card(path: Path | None = None) -> dict[str, object]:
    card_path = path or ARTIFACT_DIR / "model_card.json"
    loaded: dict[str, object] = json.loads(card_path.read_text(encoding="utf-8"))
    return loaded
