"""Bank and card-network names are shuffled in the training queries (``training.brands``)."""

from __future__ import annotations

import re

from training.brands import BANKS, CARD_NETWORKS, with_brand_names_shuffled
from training.data import Query


def _query(text: str, urgent: bool = False) -> Query:
    return Query(text, "freeze_account" if urgent else "balance", "clinc150", urgent)


def _names_in(text: str, names: tuple[str, ...]) -> list[str]:
    pattern = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    return [match.lower() for match in re.findall(rf"\b(?:{pattern})\b", text, re.IGNORECASE)]


def test_every_bank_name_becomes_another_bank_and_the_label_stays() -> None:
    queries = [_query("freeze my Bank of America checking and my chase savings", urgent=True)] * 50
    for shuffled in with_brand_names_shuffled(queries, seed=0):
        first, second = _names_in(shuffled.text, BANKS)
        assert first != "bank of america"
        assert second != "chase"
        assert shuffled.text.startswith("freeze my ")
        assert shuffled.text.endswith(" savings")
        assert (shuffled.intent, shuffled.source, shuffled.urgent) == ("freeze_account", "clinc150", True)


def test_names_are_spread_over_their_kind() -> None:
    shuffled = with_brand_names_shuffled([_query("what is my wells fargo balance")] * 400, seed=0)
    drawn = {_names_in(query.text, BANKS)[0] for query in shuffled}
    assert drawn == set(BANKS) - {"wells fargo"}


def test_the_same_seed_gives_the_same_queries_and_another_seed_others() -> None:
    queries = [_query(f"my citibank card number {n} was stolen") for n in range(30)]
    assert with_brand_names_shuffled(queries, seed=3) == with_brand_names_shuffled(queries, seed=3)
    assert with_brand_names_shuffled(queries, seed=3) != with_brand_names_shuffled(queries, seed=4)


def test_a_card_network_is_replaced_where_it_means_the_card() -> None:
    for text in ("my mastercard was stolen", "i lost my visa", "my visa card was declined", "amex charges"):
        (shuffled,) = with_brand_names_shuffled([_query(text)], seed=0)
        assert shuffled.text != text
        assert len(_names_in(shuffled.text, CARD_NETWORKS)) == 1


def test_a_travel_visa_a_verb_and_a_choice_between_networks_are_kept() -> None:
    queries = [
        _query("do i need a visa to travel to japan"),
        _query("I discover a payment I never made"),
        _query("Can I choose between Visa and Mastercard?"),
        _query("how do i check my balance"),
    ]
    shuffled = with_brand_names_shuffled(queries, seed=0)
    assert all(new is old for new, old in zip(shuffled, queries, strict=True))
