"""The embedded urgency model: a softmax over intents on hashed n-grams, read from a compact ``.npz``.

Classes are the Urgent intents one by one, the non-urgent intents closest to them one by one, and one "other"
class per source; P(Urgent) is the sum of the Urgent classes' probabilities. Intents that compete sharpen the
boundary: one urgent-vs-rest hyperplane separates "my card was stolen" from "my card has not arrived" worse.
The score is pooled over sentences (see ``raw_log_odds_many``) and Platt-calibrated out of fold.

Artifact: used hash buckets only, int8 weights with one scale per class (well under 1 MB). The runtime needs
numpy only: no scikit-learn and no download (the artifact ships inside the layer).
"""

from __future__ import annotations

import io
import itertools
import json
import threading
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from email2chat.classifier.features import (
    BIGRAM_MIX_A,
    BIGRAM_MIX_B,
    BIGRAM_MIX_C,
    MAX_TOKEN_CHARS,
    TEXT_SEPARATOR,
    HashedFeaturiser,
    bigram_hash,
    char_ngram_hashes,
    feature_value,
    fold_digits,
    token_hash,
    tokenize,
    tokenize_batch,
)
from email2chat.errors import ModelArtifactError

ARTIFACT_DIR = Path(__file__).resolve().parent / "artifact"
DEFAULT_ARTIFACT = ARTIFACT_DIR / "urgency_model.npz"
ARTIFACT_FORMAT = 3  # 3: every feature of a text has one value (features.feature_value)
MIN_SENTENCE_TOKENS = 2  # "Thanks." alone says nothing
_BREAK = -1  # the row marker of a sentence break in ``_TokenTable.log_odds``
_SEPARATOR = -2  # the row marker of a text separator
_BREAK_STARTS = frozenset(".!?\n" + TEXT_SEPARATOR)
_FIXED_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # zip entries carry no wall-clock time: same data, same bytes

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ModelParameters:
    """Everything the runtime needs; written by training, read by ``UrgencyModel``."""

    bits: int
    length_power: float
    classes: tuple[str, ...]
    urgent_classes: tuple[str, ...]
    buckets: npt.NDArray[np.uint32]  # the hash buckets with a non-zero weight, ascending
    quantised: npt.NDArray[np.int8]  # (len(buckets), n_classes): weight = quantised * scales[class]
    scales: FloatArray  # (n_classes,)
    bias: FloatArray  # (n_classes,)
    platt_slope: float
    platt_intercept: float

    @staticmethod
    def quantise(
        dense: npt.NDArray[np.float64],
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int8], FloatArray]:
        """Keep the used buckets only and store their weights as int8 with one scale per class.

        Most buckets of a hashed space never occur in training, and L2-regularised weights of unseen
        features are exactly zero: storing used rows only, at 8 bits, makes an 80-class model fit in a few MB.
        The rounding error (at most scale / 2 per weight) moves a logit by about 1e-2 at most.
        """
        used = np.flatnonzero(np.any(dense != 0.0, axis=1)).astype(np.uint32)
        rows = dense[used]
        largest = np.abs(rows).max(axis=0) if len(rows) else np.zeros(dense.shape[1])
        scales = np.where(largest > 0, largest / 127.0, 1.0).astype(np.float32)
        quantised = np.clip(np.rint(rows / scales.astype(np.float64)), -127, 127).astype(np.int8)
        return used, quantised, scales

    def row_weights(self) -> FloatArray:
        """The used buckets' weights as float32, plus one zero row (the weight of every unused bucket)."""
        weights = np.empty((len(self.buckets) + 1, len(self.classes)), dtype=np.float32)
        np.multiply(self.quantised, self.scales, out=weights[:-1])  # no float32 temporaries: cold start
        weights[-1] = 0.0
        return weights

    def bucket_rows(self) -> npt.NDArray[np.int32]:
        """Row of ``row_weights`` for every bucket (unused buckets point at the zero row)."""
        rows = np.full(1 << self.bits, len(self.buckets), dtype=np.int32)
        rows[self.buckets.astype(np.intp)] = np.arange(len(self.buckets), dtype=np.int32)
        return rows

    def write(self, path: Path) -> None:
        """Write the artifact byte-for-byte reproducibly (fixed zip dates, fixed member order)."""
        arrays: dict[str, np.ndarray] = {
            "format": np.array([ARTIFACT_FORMAT], dtype=np.int32),
            "bits": np.array([self.bits], dtype=np.int32),
            "length_power": np.array([self.length_power], dtype=np.float64),
            "classes": np.array(self.classes, dtype="<U64"),
            "urgent_classes": np.array(self.urgent_classes, dtype="<U64"),
            "buckets": np.ascontiguousarray(self.buckets, dtype=np.uint32),
            "quantised": np.ascontiguousarray(self.quantised, dtype=np.int8),
            "scales": np.ascontiguousarray(self.scales, dtype=np.float32),
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
                    length_power=float(data["length_power"][0]),
                    classes=tuple(str(c) for c in data["classes"]),
                    urgent_classes=tuple(str(c) for c in data["urgent_classes"]),
                    buckets=data["buckets"],
                    quantised=data["quantised"],
                    scales=data["scales"].astype(np.float32),
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
        self.featuriser = HashedFeaturiser(parameters.bits, parameters.length_power)
        self._mask = self.featuriser.n_buckets - 1
        # int8 on disk, float32 in memory: numpy gathers and sums float32 fastest.
        self._row_weights = parameters.row_weights()
        self._bucket_rows = parameters.bucket_rows()
        self._bias = parameters.bias
        urgent = set(parameters.urgent_classes)
        unknown = urgent - set(parameters.classes)
        if unknown:
            raise ModelArtifactError(f"urgent classes not in the model: {sorted(unknown)}")
        self._urgent_mask = np.array([c in urgent for c in parameters.classes], dtype=bool)
        # Small: the token tables keep every token's sums; this serves table misses and drivers only.
        self._token_features = lru_cache(maxsize=4096)(self._token_features_uncached)
        self._table = _TokenTable(self)
        # The token tables grow in place: one scorer at a time (the local runner calls handlers from threads).
        self._table_lock = threading.Lock()

    def bucket_weights(self, buckets: npt.NDArray[np.intp]) -> FloatArray:
        """The weights (one row per bucket, one column per class) of the given hash buckets."""
        weights: FloatArray = self._row_weights[self._bucket_rows[buckets]]
        return weights

    def bucket_weights_by_class(self, buckets: npt.NDArray[np.intp]) -> FloatArray:
        """``bucket_weights`` transposed (a contiguous copy): one row per class, one column per bucket.

        Sums along its rows run over contiguous memory, as the token table's class-major sums do. The copy is
        per call (a few buckets): a class-major copy of the whole table cost ~15 MB and 10-30 ms at load.
        """
        weights: FloatArray = np.ascontiguousarray(self.bucket_weights(buckets).T)
        return weights

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
        value = feature_value(len(tokens), self.parameters.length_power)
        indices = word_indices + char_indices
        return indices, [value] * len(indices), word_owner + char_owner

    def _logits(self, indices: list[int], values: list[float]) -> FloatArray:
        if not indices:
            return self._bias.copy()
        gathered = self.bucket_weights(np.asarray(indices, dtype=np.intp))
        logits: FloatArray = self._bias + np.asarray(values, dtype=np.float32) @ gathered
        return logits

    def raw_log_odds_many(self, texts: list[str]) -> list[float]:
        """Uncalibrated, sentence-pooled log-odds of Urgent (what training calibrates).

        Pooling: the mean of the whole text's log-odds and its most urgent sentence's. An email wraps its
        ask in lines that are not about it ("Sorry to bother you", "Waiting for your reply") and whose words
        lean toward other intents; the sentence view hears the ask alone, the whole view keeps a query's
        context ("my card was stolen last year, how do I change my PIN?" is not urgent).
        """
        return [float(value) for value in self._pooled_log_odds(texts)]

    def _pooled_log_odds(self, texts: list[str]) -> npt.NDArray[np.float64]:
        if not texts:
            return np.zeros(0)
        tokens = tokenize_batch(texts)
        with self._table_lock:
            whole, best_sentence = self._table.log_odds(tokens, len(texts))
        pooled: npt.NDArray[np.float64] = np.where(
            np.isfinite(best_sentence), 0.5 * (whole + best_sentence), whole
        )
        return pooled

    def whole_text_log_odds(self, text: str) -> float:
        """Log-odds of the text as one piece, without sentence pooling."""
        with self._table_lock:
            whole, _ = self._table.log_odds(tokenize_batch([text]), 1, sentences=False)
        return float(whole[0])

    def raw_log_odds(self, text: str) -> float:
        return self.raw_log_odds_many([text])[0]

    def score(self, text: str) -> float:
        """Calibrated probability that ``text`` (normalised model text) is Urgent."""
        return self.score_many([text])[0]

    def score_many(self, texts: list[str]) -> list[float]:
        """Bulk ``score``: one tokenising pass, one gather and one segmented sum for the whole batch."""
        z = self.parameters.platt_slope * self._pooled_log_odds(texts) + self.parameters.platt_intercept
        # the logistic function without overflow: exp of a non-positive number only
        e = np.exp(-np.abs(z))
        probabilities = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        return [float(p) for p in probabilities]

    def score_with_drivers(self, text: str) -> tuple[float, list[TokenDriver]]:
        """The score and each token's push toward Urgent.

        The push is measured on the linear margin between the strongest Urgent class and the strongest other
        class of the whole text, which is what the softmax decision turns on; it is exact for that margin.
        """
        score = self.score(text)
        tokens = tokenize(text)
        indices, values, owners = self._features(tokens)
        if not indices:
            return score, []
        logits = self._logits(indices, values)
        classes = np.arange(len(logits))
        best_urgent = int(classes[self._urgent_mask][np.argmax(logits[self._urgent_mask])])
        best_other = int(classes[~self._urgent_mask][np.argmax(logits[~self._urgent_mask])])
        # the margin's direction on this text's feature rows only (the whole table is ~100x larger)
        feature_rows = self._bucket_rows[np.asarray(indices, dtype=np.intp)]
        direction = self._row_weights[feature_rows, best_urgent] - self._row_weights[feature_rows, best_other]
        per_feature = np.asarray(values, dtype=np.float32) * direction
        per_token = np.bincount(np.asarray(owners, dtype=np.intp), weights=per_feature, minlength=len(tokens))
        return score, [TokenDriver(i, float(c)) for i, c in enumerate(per_token)]


class _TokenTable:
    """Per-token sums, so scoring is a few numpy operations per batch instead of hashing n-grams.

    With the scaling of ``features`` the logits of a token sequence are
    ``bias + value(n) * (sum of token rows + sum of bigram rows)``, where a token row is the sum of its
    unigram and char n-gram weights: the same in every text, so it is computed once per token and kept in a
    growing table (bounded: reset when full).
    """

    MAX_TOKENS = 30_000  # 30k x n_classes float32 (~6 MB for 52 classes); a reset only costs re-hashing

    def __init__(self, model: UrgencyModel) -> None:
        self._model = model
        self._n_classes = len(model.parameters.classes)
        self._no_words_log_odds = float(self._log_odds_of(model._bias.astype(np.float64)[None, :])[0])
        self._reset(capacity=4096)

    def _reset(self, capacity: int) -> None:
        self._rows: dict[str, int] = {TEXT_SEPARATOR: _SEPARATOR}  # words -> rows, and the separator
        # Class-major (n_classes, capacity): gathering columns and summing runs of tokens along the
        # contiguous axis is ~2x faster than the same segmented sums over rows (measured on 50k tokens).
        self._sums = np.zeros((self._n_classes, capacity), dtype=np.float32)
        self._hash = np.zeros(capacity, dtype=np.uint64)

    def _add(self, words: list[str]) -> None:  # ``words``: distinct
        """Give each of ``words`` a row: the features of the word with its digits folded, cut to
        ``MAX_TOKEN_CHARS`` (as ``tokenize`` does), so "card 1234" and "card 5678" score alike."""
        new = [w for w in words if w not in self._rows]
        if not new:
            return
        known = len(self._rows) - 1  # rows in use: the separator has none
        if known + len(new) > self.MAX_TOKENS:
            self._reset(capacity=4096)
            new, known = words, 0  # the reset dropped this batch's known words too
        if known + len(new) > len(self._hash):
            capacity = max(known + len(new), 2 * len(self._hash))
            sums = np.zeros((self._n_classes, capacity), dtype=np.float32)
            sums[:, :known] = self._sums[:, :known]
            hashes = np.zeros(capacity, dtype=np.uint64)
            hashes[:known] = self._hash[:known]
            self._sums, self._hash = sums, hashes
        model = self._model
        mask = model._mask
        for row, word in enumerate(new, start=known):
            word_hash, chars = model._token_features(fold_digits(word)[:MAX_TOKEN_CHARS])
            self._rows[word] = row
            self._hash[row] = word_hash
            buckets = np.asarray((word_hash & mask, *chars), dtype=np.intp)
            self._sums[:, row] = model.bucket_weights_by_class(buckets).sum(axis=1)

    def log_odds(
        self, tokens: list[str], n_texts: int, *, sentences: bool = True
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Log-odds of Urgent of each whole text, and of its most urgent sentence (``-inf`` when the text
        has fewer than two sentences of ``MIN_SENTENCE_TOKENS`` words).

        ``tokens`` is ``tokenize_batch`` of ``n_texts`` texts. Words are laid out flat in "chunks" (runs of
        words between sentence breaks, or whole texts when ``sentences`` is off); every sum is a
        ``reduceat`` over contiguous rows: tokens -> chunks -> texts, so each text costs the same whatever
        else is in the batch (scores do not depend on batch composition, up to float32 rounding of sums in a
        different memory alignment). No Python loop runs per token: words and the separator map to rows and
        markers through the dict in C (``map``), sentence and line breaks to ``_BREAK``.
        """
        self._add([t for t in set(tokens) if t[0] not in _BREAK_STARTS])
        markers = np.fromiter(
            map(self._rows.get, tokens, itertools.repeat(_BREAK)), dtype=np.intp, count=len(tokens)
        )
        word_positions = np.flatnonzero(markers >= 0)
        whole = np.full(n_texts, self._no_words_log_odds)
        best_sentence = np.full(n_texts, -np.inf)
        if not len(word_positions):
            return whole, best_sentence
        token_rows = markers[word_positions]
        word_texts = np.cumsum(markers == _SEPARATOR)[word_positions]
        # a chunk starts at a text's first word, and (sentences on) at the first word after a break
        chunk_start = np.ones(len(word_positions), dtype=bool)
        chunk_start[1:] = np.diff(word_positions) > 1 if sentences else np.diff(word_texts) > 0
        starts = np.flatnonzero(chunk_start)
        owners = word_texts[starts]
        ends = np.append(starts[1:], len(token_rows))
        lengths = ends - starts

        # pair i joins words i and i + 1 and is counted with word i. Its weights are gathered row-major (one
        # contiguous row per bigram from the large weight table: ~3x faster than a class-major gather), the
        # sums run along the contiguous (token) axis of the class-major per-word array; the chunk-level
        # results are few, so they go back to row-major float64 for the rest.
        model = self._model
        per_word = np.take(self._sums, token_rows, axis=1)
        leaving = np.zeros((len(starts), self._n_classes), dtype=np.float64)  # the pair leaving each chunk
        if len(token_rows) >= 2:
            hashes = self._hash[token_rows]
            mix = (
                (hashes[:-1] * np.uint64(BIGRAM_MIX_A))
                ^ (hashes[1:] * np.uint64(BIGRAM_MIX_B))
                ^ np.uint64(BIGRAM_MIX_C)
            )
            pairs = model.bucket_weights((mix & np.uint64(0xFFFFFFFF & model._mask)).astype(np.intp))
            pairs[word_texts[1:] != word_texts[:-1]] = 0.0  # no bigram joins two texts
            per_word[:, :-1] += pairs.T
            inner = ends < len(token_rows)
            leaving[inner] = pairs[ends[inner] - 1]
        with_leaving = np.add.reduceat(per_word, starts, axis=1).T.astype(np.float64)

        # whole texts: sum their chunks (with the pairs between them; none leaves a text's last chunk)
        first_chunks = np.flatnonzero(np.append(True, owners[1:] != owners[:-1]))
        whole[owners[first_chunks]] = self._log_odds_of(
            self._logits(
                np.add.reduceat(lengths, first_chunks), np.add.reduceat(with_leaving, first_chunks, axis=0)
            )
        )
        if sentences:
            eligible = lengths >= MIN_SENTENCE_TOKENS
            per_text = np.bincount(owners[eligible], minlength=n_texts)
            chosen = eligible & (per_text[owners] >= 2)  # one sentence is the whole text: nothing to pool
            if chosen.any():
                sentence_log_odds = self._log_odds_of(
                    self._logits(lengths[chosen], with_leaving[chosen] - leaving[chosen])
                )
                np.maximum.at(best_sentence, owners[chosen], sentence_log_odds)
        return whole, best_sentence

    def _logits(
        self, n_tokens: npt.NDArray[np.intp], sums: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        counts = np.maximum(2 * n_tokens - 1, 0).astype(np.float64)  # ``features.word_gram_count``
        values = np.where(
            counts > 0, np.power(np.maximum(counts, 1.0), -self._model.parameters.length_power), 0.0
        )
        logits: npt.NDArray[np.float64] = self._model._bias + values[:, None] * sums
        return logits

    def _log_odds_of(self, logits: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """log P(Urgent) - log P(other) from the class masses directly: no 0/1 clipping needed."""
        urgent = self._model._urgent_mask
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        urgent_mass = np.maximum(shifted[:, urgent].sum(axis=1), 1e-300)
        other_mass = np.maximum(shifted[:, ~urgent].sum(axis=1), 1e-300)
        log_odds: npt.NDArray[np.float64] = np.log(urgent_mass) - np.log(other_mass)
        return log_odds


def read_model_card(path: Path | None = None) -> dict[str, object]:
    card_path = path or ARTIFACT_DIR / "model_card.json"
    loaded: dict[str, object] = json.loads(card_path.read_text(encoding="utf-8"))
    return loaded
