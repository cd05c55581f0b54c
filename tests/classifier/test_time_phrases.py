"""Time phrases that an intent's template overused are thinned in training (``training.time_phrases``)."""

from __future__ import annotations

import re

import pytest
from email2chat.classifier import UrgencyClassifier

from training.data import Query
from training.time_phrases import with_overused_time_phrases_thinned, without_time_phrase

DECLINED = ("clinc150", "card_declined")
BALANCE = ("clinc150", "balance")


@pytest.fixture(scope="module")
def classifier() -> UrgencyClassifier:
    return UrgencyClassifier.load()


def _queries() -> list[Query]:
    """20 of 30 card_declined queries say "yesterday" (as CLINC150's template did); 300 balance queries, 3 of
    them with "yesterday": the word's overall rate is 23 / 330."""
    declined = [
        Query(
            f"why was my card number {n} declined" + (" yesterday" if n < 20 else ""),
            *reversed(DECLINED),
            False,
        )
        for n in range(30)
    ]
    balance = [
        Query(f"what is balance {n}" + (" since yesterday" if n < 3 else ""), *reversed(BALANCE), False)
        for n in range(300)
    ]
    return declined + balance


def _with_yesterday(queries: list[Query], intent: tuple[str, str]) -> int:
    return sum(1 for q in queries if (q.source, q.intent) == intent and re.search(r"\byesterday\b", q.text))


@pytest.mark.parametrize(
    ("text", "phrase", "expected"),
    [
        (
            "can you tell me why my card was declined yesterday",
            "yesterday",
            "can you tell me why my card was declined",
        ),
        ("Yesterday evening, my card was stolen.", "yesterday", "my card was stolen."),
        ("I have been overcharged on last Saturday.", "last", "I have been overcharged."),
        ("A few days ago I ordered a card", "ago", "I ordered a card"),
        (
            "Cash deposited this morning hasn't come through",
            "this part of the day",
            "Cash deposited hasn't come through",
        ),
        ("I sent it the day before yesterday", "yesterday", "I sent it the day before yesterday"),
        ("yesterday", "yesterday", "yesterday"),  # nothing would be left: kept as it was
    ],
)
def test_a_time_phrase_is_removed_with_its_lead_in_and_the_rest_kept(
    text: str, phrase: str, expected: str
) -> None:
    assert without_time_phrase(text, phrase) == expected


def test_an_intent_that_overuses_a_phrase_keeps_about_cap_times_its_overall_rate() -> None:
    queries = _queries()
    thinned = with_overused_time_phrases_thinned(queries, {DECLINED, BALANCE}, seed=0, cap=3.0)
    # overall rate 23 / 330; card_declined keeps round(3 * 23 / 330 * 30) = 6 of its 20
    assert _with_yesterday(thinned, DECLINED) == 6
    assert _with_yesterday(thinned, BALANCE) == 3  # 1 % is under the overall rate: untouched
    assert [q.intent for q in thinned] == [q.intent for q in queries]
    assert {q.text for q in thinned if q.intent == "card_declined"} >= {"why was my card number 3 declined"}


def test_intents_without_a_class_of_their_own_and_cap_zero_are_left_alone() -> None:
    queries = _queries()
    assert with_overused_time_phrases_thinned(queries, {BALANCE}, seed=0) == queries
    assert with_overused_time_phrases_thinned(queries, {DECLINED, BALANCE}, seed=0, cap=0) == queries


def test_the_same_seed_thins_the_same_queries_and_another_seed_others() -> None:
    queries = _queries()
    first = with_overused_time_phrases_thinned(queries, {DECLINED}, seed=1)
    assert first == with_overused_time_phrases_thinned(queries, {DECLINED}, seed=1)
    assert first != with_overused_time_phrases_thinned(queries, {DECLINED}, seed=2)


@pytest.mark.parametrize(
    "text",
    [
        "My card was stolen yesterday",  # 0.217 before the thinning
        "I lost my card yesterday",  # 0.123
        "My card was stolen yesterday evening",  # 0.109
        "my card got stolen yesterday, please block it",  # 0.205
        "Yesterday my debit card was stolen",  # 0.174
        "My wallet was stolen yesterday with all my cards",  # 0.494
    ],
)
def test_the_shipped_model_reads_an_urgent_sentence_with_yesterday_as_urgent(
    classifier: UrgencyClassifier, text: str
) -> None:
    decision = classifier.decide("", text, "", queue_wait_minutes=0.0)
    assert decision.score > 0.85


def test_the_shipped_model_still_reads_a_declined_card_as_not_urgent(classifier: UrgencyClassifier) -> None:
    decision = classifier.decide("", "why was my card declined yesterday", "", queue_wait_minutes=0.0)
    assert decision.score < 0.5
