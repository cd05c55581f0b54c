"""The featuriser, shared by training and the Lambda runtime (one implementation, so they cannot drift).

Text -> hashed sparse features in ``2**bits`` buckets:

- word group: unigrams and adjacent bigrams of the tokens;
- char group: character 3- to 5-grams of each token padded with spaces (robust to typos and inflections).

Each group is scaled by ``occurrences ** -length_power`` (0.5 is a 1/sqrt length norm; smaller powers dilute a
short urgent sentence less when an email adds neutral lines around it). That scaling (rather than an L2 norm
over distinct features) keeps the model *additive per token*: a token's contribution to the logit is fixed
once the group sizes are known, so the runtime caches per-token partial sums and scores an email with one dict
lookup per token instead of hashing every n-gram again. It also makes per-token drivers exact.

Hashes are ``zlib.crc32`` (stable across processes, unlike ``hash()``); bigrams combine two token hashes with
integer mixing, which is cheaper than hashing the joined string and just as stable.
"""

from __future__ import annotations

import itertools
import math
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

# Digits are folded to '0' so amounts, dates and card digits generalise ("$40" ~ "$25").
_TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_DIGITS_RE = re.compile(r"[0-9]+")
_MAX_TOKEN_CHARS = 24  # longer "words" are URLs or base64 noise: truncating bounds the char n-gram work
CHAR_NGRAM_SIZES = (3, 4, 5)
BIGRAM_MIX_A = 0x9E3779B1
BIGRAM_MIX_B = 0x85EBCA77
BIGRAM_MIX_C = 0x27D4EB2F


SENTENCE_BREAK = "."  # never a word token: marks the end of a sentence or line in ``tokenize_with_breaks``
_TOKEN_OR_BREAK_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[.!?]+(?=\s|$)|\n")


def tokenize_with_breaks(text: str) -> list[str]:
    """``tokenize`` with ``SENTENCE_BREAK`` wherever a sentence or a line ends (one regex pass for both)."""
    lowered = _DIGITS_RE.sub("0", text.lower())
    return [
        SENTENCE_BREAK if match[0] in ".!?\n" else match[:_MAX_TOKEN_CHARS]
        for match in _TOKEN_OR_BREAK_RE.findall(lowered)
    ]


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens, digits folded, each at most ``_MAX_TOKEN_CHARS`` long."""
    lowered = _DIGITS_RE.sub("0", text.lower())
    return [match[:_MAX_TOKEN_CHARS] for match in _TOKEN_RE.findall(lowered)]


def token_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the tokens of ``text`` (same order as ``tokenize``), for quoting drivers."""
    lowered = _DIGITS_RE.sub(lambda m: "0" * len(m.group()), text.lower())  # keep offsets aligned
    return [m.span() for m in _TOKEN_RE.finditer(lowered)]


def _crc(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def token_hash(token: str) -> int:
    return _crc("w:" + token)


def bigram_hash(left_hash: int, right_hash: int) -> int:
    return ((left_hash * BIGRAM_MIX_A) ^ (right_hash * BIGRAM_MIX_B) ^ BIGRAM_MIX_C) & 0xFFFFFFFF


def char_ngram_hashes(token: str) -> list[int]:
    padded = f" {token} "
    return [
        _crc("c:" + padded[start : start + size])
        for size in CHAR_NGRAM_SIZES
        for start in range(len(padded) - size + 1)
    ]


def group_scale(occurrences: int, length_power: float) -> float:
    """The value of each n-gram occurrence in a group of ``occurrences``: ``occurrences ** -length_power``."""
    return math.pow(occurrences, -length_power) if occurrences else 0.0


@dataclass(frozen=True)
class SparseFeatures:
    """One text's features: bucket indices (may repeat) and their values, ready for a CSR row."""

    indices: list[int]
    values: list[float]


class HashedFeaturiser:
    """Maps text to hashed features in ``2**bits`` buckets (see the module docstring)."""

    def __init__(self, bits: int = 18, length_power: float = 0.5) -> None:
        if not 10 <= bits <= 24:
            raise ValueError("bits must be between 10 and 24")
        if not 0.0 <= length_power <= 1.0:
            raise ValueError("length_power must be between 0 and 1")
        self.bits = bits
        self.length_power = length_power
        self.n_buckets = 1 << bits
        self._mask = self.n_buckets - 1

    def featurise_tokens(self, tokens: list[str]) -> SparseFeatures:
        mask = self._mask
        hashes = [token_hash(token) for token in tokens]
        word = [h & mask for h in hashes]
        word += [bigram_hash(a, b) & mask for a, b in itertools.pairwise(hashes)]
        chars = [h & mask for token in tokens for h in char_ngram_hashes(token)]
        values = [group_scale(len(word), self.length_power)] * len(word)
        values += [group_scale(len(chars), self.length_power)] * len(chars)
        return SparseFeatures(indices=word + chars, values=values)

    def featurise(self, text: str) -> SparseFeatures:
        return self.featurise_tokens(tokenize(text))

    def featurise_many(self, texts: Iterable[str]) -> list[SparseFeatures]:
        return [self.featurise(text) for text in texts]
