"""The featuriser, shared by training and the Lambda runtime (one implementation, so they cannot drift).

Text -> hashed sparse features in ``2**bits`` buckets:

- word group: unigrams and adjacent bigrams of the tokens;
- char group: character 3- to 5-grams of each token padded with spaces (robust to typos and inflections).

Every feature of a text has the same value, ``(unigrams + bigrams) ** -length_power`` (0.5 is a 1/sqrt length
norm; smaller powers dilute a short urgent sentence less when an email adds neutral lines around it). That
scaling (rather than an L2 norm over distinct features) keeps the model *additive per token*: a token's
unigram and char n-grams add up to one fixed vector, scaled once per text, so the runtime caches one vector
per token and scores an email with one dict lookup per token (plus its bigram) instead of hashing every
n-gram again. It also makes per-token drivers exact.

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

# Digits are folded to '0' so amounts, dates and card digits generalise ("$40" ~ "$25"). Possessive
# quantifiers (Python 3.11+): the same matches (a run cannot end early and still be followed by a match), and
# the engine keeps no backtracking state (~12 % faster batch tokenising).
_TOKEN_RE = re.compile(r"[a-z0-9]++(?:'[a-z]++)?+")
_DIGITS_RE = re.compile(r"[0-9]+")
MAX_TOKEN_CHARS = 24  # longer "words" are URLs or base64 noise: truncating bounds the char n-gram work
CHAR_NGRAM_SIZES = (3, 4, 5)
BIGRAM_MIX_A = 0x9E3779B1
BIGRAM_MIX_B = 0x85EBCA77
BIGRAM_MIX_C = 0x27D4EB2F


TEXT_SEPARATOR = "\x00"  # joins a batch of texts into one string for ``tokenize_batch``
# A word, a sentence end (punctuation before a space, the end of a text or of the batch), a line end, or the
# separator between texts.
_BATCH_TOKEN_RE = re.compile(_TOKEN_RE.pattern + r"|[.!?]++(?=\s|\x00|$)|[\n\x00]")


def fold_digits(word: str) -> str:
    """Every run of digits as one ``0``."""
    return _DIGITS_RE.sub("0", word) if not word.isalpha() else word


def tokenize_batch(texts: list[str]) -> list[str]:
    """The tokens of a whole batch in one regex pass: words (lower-cased, but not yet digit-folded nor cut to
    ``MAX_TOKEN_CHARS``: see ``fold_digits``), sentence and line ends (strings starting with one of
    ``.!?\\n``), and ``TEXT_SEPARATOR`` between texts.

    One pass over the joined batch costs a fraction of one pass per text; a NUL already inside a text is
    replaced by a character that is neither a word nor a break (as NUL is within one text), so texts cannot
    merge or split.
    """
    joined = TEXT_SEPARATOR.join(texts)
    if joined.count(TEXT_SEPARATOR) != len(texts) - 1:
        joined = TEXT_SEPARATOR.join(text.replace(TEXT_SEPARATOR, "\x01") for text in texts)
    return _BATCH_TOKEN_RE.findall(joined.lower())


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens, digits folded, each at most ``MAX_TOKEN_CHARS`` long."""
    lowered = _DIGITS_RE.sub("0", text.lower())
    return [match[:MAX_TOKEN_CHARS] for match in _TOKEN_RE.findall(lowered)]


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


def word_gram_count(n_tokens: int) -> int:
    """Unigrams and bigrams of ``n_tokens`` tokens: the count every feature value is scaled by."""
    return max(2 * n_tokens - 1, 0)


def feature_value(n_tokens: int, length_power: float) -> float:
    """The value of every feature of a text of ``n_tokens`` tokens: ``word_gram_count ** -length_power``."""
    count = word_gram_count(n_tokens)
    return math.pow(count, -length_power) if count else 0.0


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
        value = feature_value(len(tokens), self.length_power)
        return SparseFeatures(indices=word + chars, values=[value] * (len(word) + len(chars)))

    def featurise(self, text: str) -> SparseFeatures:
        return self.featurise_tokens(tokenize(text))

    def featurise_many(self, texts: Iterable[str]) -> list[SparseFeatures]:
        return [self.featurise(text) for text in texts]
