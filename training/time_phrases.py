"""Time phrases thinned where one intent's template overused them, so that "when" is not evidence of "what".

CLINC150's crowd-workers asked ``card_declined`` with "yesterday" in 29 of its 100 training queries ("can you
tell me why my card was declined yesterday"), 69 times the word's rate over all queries; BANKING77's
``lost_or_stolen_phone`` has it in 12 of 96. The softmax learnt "yesterday" as a marker of card_declined, so
"My card was stolen yesterday" scored 0.217 and "I lost my card yesterday" 0.123, against 0.999 and 0.995
without the word. When something happened says nothing about what happened.

In every intent that has a class of its own (the Urgent ones and the non-urgent ones that compete with them),
a time phrase found in more than ``cap`` times its rate over all training queries (and in at least
``min_count`` of the intent's queries) is removed from a seeded random share of them, so that the intent keeps
about ``cap`` times the overall rate. The rest of each query is left as it was, and so are the intents pooled
into a source's "other" class: there the phrase is often what is asked ("check my calendar for saturday").
Removing the phrases everywhere, at training and at scoring, was tried in session 10 and cost CLINC150's
``transactions`` ("what withdrawals were there on my account yesterday") its meaning
(``training/EXPERIMENTS.md``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Collection, Sequence
from dataclasses import replace

from training.data import Query

_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_PART_OF_DAY = r"(?:morning|afternoon|evening|night)"
_SINCE = r"(?:since |from |as of )?"
# One kind of time reference each; a pattern takes its usual lead-in ("since", "on", "earlier") with it.
TIME_PHRASES: dict[str, str] = {
    "ago": r"(?:a|an|one|two|three|four|five|a few|few|several|\d+) (?:minutes?|hours?|days?|weeks?) ago",
    "earlier": r"earlier",
    "just now": r"just now",
    "last": rf"{_SINCE}(?:on )?last (?:night|week|weekend|{_WEEKDAY})",
    "recently": r"recently",
    "this part of the day": rf"{_SINCE}this {_PART_OF_DAY}",
    "today": rf"(?:earlier )?{_SINCE}today",
    "tonight": r"tonight",
    "weekday": rf"{_SINCE}(?:on )?{_WEEKDAY}(?: {_PART_OF_DAY})?",
    "yesterday": rf"(?<!before ){_SINCE}yesterday(?: {_PART_OF_DAY})?",
}
_PATTERNS = {
    name: re.compile(rf"(?<![\w'])(?:{pattern})(?![\w'])", re.IGNORECASE)
    for name, pattern in TIME_PHRASES.items()
}
_SPACES = re.compile(r"\s{2,}")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([?.!,])")

DEFAULT_CAP = 3.0
DEFAULT_MIN_COUNT = 5


def without_time_phrase(text: str, phrase: str) -> str:
    """``text`` without the time phrase named ``phrase`` (a key of ``TIME_PHRASES``), spacing tidied."""
    stripped = _PATTERNS[phrase].sub("", text)
    stripped = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", _SPACES.sub(" ", stripped)).strip().lstrip(",;: ")
    return stripped or text


def with_overused_time_phrases_thinned(
    queries: Sequence[Query],
    intents: Collection[tuple[str, str]],
    seed: int,
    *,
    cap: float = DEFAULT_CAP,
    min_count: int = DEFAULT_MIN_COUNT,
) -> list[Query]:
    """``queries`` with each time phrase thinned in the ``intents`` (``(source, intent)``) that overuse it.

    Deterministic for sorted ``queries`` and a seed; a query keeps its identity when nothing is removed.
    """
    thinned = list(queries)
    if cap <= 0:
        return thinned
    by_intent: dict[tuple[str, str], list[int]] = {}
    for position, query in enumerate(thinned):
        by_intent.setdefault((query.source, query.intent), []).append(position)
    rng = random.Random(f"time-phrases:{seed}")
    for phrase, pattern in _PATTERNS.items():
        having = {position for position, query in enumerate(thinned) if pattern.search(query.text)}
        overall_rate = len(having) / max(len(thinned), 1)
        for intent in sorted(set(intents) & by_intent.keys()):
            members = by_intent[intent]
            with_phrase = [position for position in members if position in having]
            keep = max(1, round(cap * overall_rate * len(members)))
            if len(with_phrase) < min_count or len(with_phrase) <= keep:
                continue
            for position in sorted(rng.sample(with_phrase, len(with_phrase) - keep)):
                query = thinned[position]
                thinned[position] = replace(query, text=without_time_phrase(query.text, phrase))
    return thinned
