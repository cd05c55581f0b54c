"""Bank and card-network names shuffled in the training queries, so that a name is not evidence of an intent.

CLINC150 names banks in its queries ("freeze my capital one checking", "what's the routing number for my
chase account"), and few of a name's mentions fall in the Urgent intents: "america" learnt -5.3 log-odds and
"mastercard" -5.9, so "can you initiate a block on my bank of america checking asap" scored 0.000 and
"spirit mastercard card was taken" 0.044. Six of the nine CLINC150 validation queries the model missed named a
bank or a network. Which bank a customer banks with says nothing about how urgent their problem is: in every
training query each bank name is replaced by another one drawn at random (and each card network, where the
word surely means the card), which spreads every name over the intents in proportion to how often any bank is
named there. Measured with one uncalibrated fit each (``training/EXPERIMENTS.md``, session 7): AUROC of the
eleven CLINC150 validation rows .9909 -> .9938 on average, BANKING77 unchanged.

Card networks are only replaced where the word is the card: "visa" is also the travel document ("do i need a
visa for japan") and "discover" a verb, and a query naming two networks is about the choice between them
(BANKING77 ``visa_or_mastercard``), so it keeps them.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence

from training.data import Query

BANKS = (
    "bank of america",
    "barclays",
    "bb&t",
    "capital one",
    "chase",
    "citi",
    "citibank",
    "fifth third",
    "first republic",
    "hsbc",
    "navy federal",
    "pnc",
    "santander",
    "schwab",
    "suntrust",
    "td bank",
    "truist",
    "us bank",
    "usaa",
    "wells fargo",
)
CARD_NETWORKS = ("american express", "amex", "discover", "mastercard", "visa")
# Also a travel document and a verb: the card only after "my" or before a card word.
_AMBIGUOUS_NETWORKS = ("discover", "visa")
_CARD_WORDS = ("account", "card", "credit", "debit", "gold", "platinum", "rewards", "signature")


def _alternation(names: Sequence[str]) -> str:
    return "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))


_BANK_RE = re.compile(rf"\b(?:{_alternation(BANKS)})\b", re.IGNORECASE)
_NETWORK_RE = re.compile(rf"\b(?:{_alternation(CARD_NETWORKS)})\b", re.IGNORECASE)
_ambiguous = _alternation(_AMBIGUOUS_NETWORKS)
_NETWORK_AS_CARD_RE = re.compile(
    rf"(?<=\bmy )(?:{_ambiguous})\b|\b(?:{_ambiguous})(?= (?:{_alternation(_CARD_WORDS)})\b)"
    rf"|\b(?:{_alternation([name for name in CARD_NETWORKS if name not in _AMBIGUOUS_NETWORKS])})\b",
    re.IGNORECASE,
)


def with_brand_names_shuffled(queries: Sequence[Query], seed: int) -> list[Query]:
    """``queries`` with every bank name, and every card network named alone and as a card, replaced by another
    name of its kind drawn from ``random.Random`` seeded with ``seed`` (same queries, same output)."""
    rng = random.Random(f"brand names:{seed}")

    def another(names: Sequence[str]) -> Callable[[re.Match[str]], str]:
        return lambda match: rng.choice([name for name in names if name != match.group(0).lower()])

    another_bank, another_network = another(BANKS), another(CARD_NETWORKS)
    shuffled: list[Query] = []
    for query in queries:
        text = _BANK_RE.sub(another_bank, query.text)
        if len({name.lower() for name in _NETWORK_RE.findall(text)}) == 1:
            text = _NETWORK_AS_CARD_RE.sub(another_network, text)
        shuffled.append(
            query if text == query.text else Query(text, query.intent, query.source, query.urgent)
        )
    return shuffled
