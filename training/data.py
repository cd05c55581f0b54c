"""The intent data sets and the project's Urgent label (``../shared/data/intents/README.md``).

BANKING77 ships only its training split here, so a validation split is carved out of it deterministically
(by a hash of the text within each intent, so the split never depends on file order or a random state).
CLINC150 has its own train / val splits, plus out-of-scope queries (never urgent).

Beside them, ``training/stories/``: 3,290 customer messages written for this project that tell a problem the
way an email does (through its details, with context around the ask), each labelled with a BANKING77 or
CLINC150 intent; training only, never validation (``load_stories``). The sentences of the non-urgent CLINC150
stories also join training alone (``story_sentences``).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from email2chat.classifier.features import tokenize

URGENT_INTENTS: dict[str, frozenset[str]] = {
    "banking77": frozenset(
        {
            "compromised_card",
            "lost_or_stolen_card",
            "lost_or_stolen_phone",
            "card_payment_not_recognised",
            "cash_withdrawal_not_recognised",
            "direct_debit_payment_not_recognised",
            "card_swallowed",
            "transaction_charged_twice",
            "wrong_amount_of_cash_received",
            "pin_blocked",
        }
    ),
    "clinc150": frozenset({"report_fraud", "report_lost_card", "account_blocked", "freeze_account"}),
}

DATA_FILES = ("banking77_train.csv", "clinc150_train_val.json", "README.md")
BANKING77_VALIDATION_FRACTION_PERCENT = 20


@dataclass(frozen=True)
class Query:
    text: str
    intent: str
    source: str  # "banking77" | "clinc150"
    urgent: bool


@dataclass(frozen=True)
class IntentData:
    train: tuple[Query, ...]
    validation: tuple[Query, ...]
    file_sha256: dict[str, str]
    stories: tuple[Query, ...] = ()  # ``training/stories``: training only


STORIES_PATH = Path(__file__).resolve().parent / "stories" / "stories.jsonl.gz"


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def default_data_dir() -> Path:
    """``../shared/data/intents`` relative to the repository root (CI clones ``shared/`` beside the repo)."""
    return repo_root().parent / "shared" / "data" / "intents"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _in_banking_validation(text: str) -> bool:
    return zlib.crc32(text.encode("utf-8")) % 100 < BANKING77_VALIDATION_FRACTION_PERCENT


def load_intent_data(data_dir: Path | None = None) -> IntentData:
    directory = data_dir or default_data_dir()
    missing = [name for name in DATA_FILES if not (directory / name).is_file()]
    if missing:
        raise FileNotFoundError(f"intent data not found in {directory}: missing {', '.join(missing)}")

    train: list[Query] = []
    validation: list[Query] = []
    with (directory / "banking77_train.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            text, intent = row["text"].strip(), row["category"].strip()
            query = Query(text, intent, "banking77", intent in URGENT_INTENTS["banking77"])
            (validation if _in_banking_validation(text) else train).append(query)

    clinc = json.loads((directory / "clinc150_train_val.json").read_text(encoding="utf-8"))
    for split, target in (
        ("train", train),
        ("oos_train", train),
        ("val", validation),
        ("oos_val", validation),
    ):
        for text, intent in clinc[split]:
            target.append(Query(text.strip(), intent, "clinc150", intent in URGENT_INTENTS["clinc150"]))

    stories = load_stories({(q.source, q.intent) for q in train})
    return IntentData(
        train=tuple(sorted(train, key=query_order)),
        validation=tuple(sorted(validation, key=query_order)),
        file_sha256={
            **{name: _sha256(directory / name) for name in DATA_FILES},
            f"training/stories/{STORIES_PATH.name}": _sha256(STORIES_PATH),
        },
        stories=stories,
    )


def query_order(q: Query) -> tuple[str, str, str]:
    """Queries are sorted so that training never depends on file order (determinism of the artifact)."""
    return (q.source, q.intent, q.text)


def load_stories(known_intents: set[tuple[str, str]], path: Path = STORIES_PATH) -> tuple[Query, ...]:
    """The written customer messages (``{"source", "intent", "text"}`` per line), labelled Urgent by the same
    table as the data sets; an intent that is not one of ``known_intents`` is an error naming it."""
    stories: list[Query] = []
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            try:
                row = json.loads(line)
                source, intent, text = str(row["source"]), str(row["intent"]), str(row["text"]).strip()
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(
                    f"{path.name} line {number}: not a {{source, intent, text}} object ({exc!r})"
                ) from exc
            if (source, intent) not in known_intents:
                raise ValueError(f"{path.name} line {number}: unknown intent {source}/{intent}")
            stories.append(Query(text, intent, source, intent in URGENT_INTENTS[source]))
    return tuple(sorted(stories, key=query_order))


# where a story's sentences part: after a full stop, question or exclamation mark, or at a line break
_SENTENCE_BREAK_RE = re.compile(r"(?<=[.!?])\s+|\n+")
STORY_SENTENCE_SOURCE = "clinc150"
MIN_STORY_SENTENCE_WORDS = 3


def _same_words(text: str) -> tuple[str, ...]:
    """``text`` as the model reads it (its tokens): "Are you a robot?" and "are you a robot" are one text."""
    return tuple(tokenize(text))


def story_sentences(
    stories: Sequence[Query], known_texts: Iterable[str] = ()
) -> tuple[tuple[Query, str], ...]:
    """Each sentence of a non-urgent CLINC150 story of two or more sentences, alone, with its story's intent,
    paired with its story's text (calibration keeps a story and its sentences in one fold).

    At runtime the model also reads an email one sentence at a time (its most urgent sentence counts), so
    a context sentence must be no evidence of urgency on its own either: "I use the app on my phone and the
    website on my laptop" alone read as a lost phone. Measured (``training/EXPERIMENTS.md``, session 13):
    splitting the CLINC150 stories helps every kind of validation row; splitting BANKING77's too lowers
    recall, because a sentence of a near miss can be an urgent fact that only its story made routine ("I was
    only given $20 after trying to withdraw $100"). Sentences of fewer than ``MIN_STORY_SENTENCE_WORDS``
    words, and sentences with the same words as a story or one of ``known_texts`` (pass the training and
    validation queries: a validation query must not be trained on), are left out.
    """
    seen = {_same_words(text) for text in known_texts} | {_same_words(story.text) for story in stories}
    sentences: list[tuple[Query, str]] = []
    for story in stories:
        if story.urgent or story.source != STORY_SENTENCE_SOURCE:
            continue
        parts = [part.strip() for part in _SENTENCE_BREAK_RE.split(story.text) if part.strip()]
        if len(parts) < 2:
            continue
        for part in parts:
            words = _same_words(part)
            if len(part.split()) >= MIN_STORY_SENTENCE_WORDS and words not in seen:
                seen.add(words)
                sentences.append((Query(part, story.intent, story.source, False), story.text))
    return tuple(sorted(sentences, key=lambda pair: query_order(pair[0])))
