"""The shipped classifier: loads fast, scores emails sensibly, explains itself, survives bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from email2chat.classifier import UrgencyClassifier
from email2chat.classifier.features import HashedFeaturiser
from email2chat.classifier.model import DEFAULT_ARTIFACT, ModelParameters, UrgencyModel
from email2chat.errors import ModelArtifactError

STOLEN = "Someone stole my card last night and there are payments on it that I did not make"
BENIGN = "Can you tell me what the exchange rate is for euros today?"


@pytest.fixture(scope="module")
def classifier() -> UrgencyClassifier:
    return UrgencyClassifier.load()


def test_artifact_is_compact_and_loads_without_scikit_learn() -> None:
    assert DEFAULT_ARTIFACT.stat().st_size <= 10 * 1024 * 1024
    code = textwrap.dedent(
        """
        import sys, time
        started = time.perf_counter()
        from email2chat.classifier import UrgencyClassifier
        clf = UrgencyClassifier.load()
        clf.score("", "my card was stolen")
        print(time.perf_counter() - started)
        assert "sklearn" not in sys.modules and "scipy" not in sys.modules
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # generous for a loaded CI box; the benchmark holds the 0.3 s goal
    assert float(result.stdout.strip()) < 2.0


def test_urgent_email_scores_high_and_drivers_quote_it(classifier: UrgencyClassifier) -> None:
    email = f"Hello team,\n\n{STOLEN}.\n\nKind regards,\nJane Doe\nSent from my iPhone"
    decision = classifier.decide("Help", email)
    assert decision.score > 0.85
    assert decision.urgent
    assert decision.by_score
    assert decision.drivers
    assert all(len(d) <= 60 and d.lower() in STOLEN.lower() for d in decision.drivers)


def test_benign_email_scores_low(classifier: UrgencyClassifier) -> None:
    decision = classifier.decide("Question", f"Hi,\n{BENIGN}\nThanks,\nJane")
    assert decision.score < 0.2
    assert not decision.urgent


def test_quoted_urgent_history_does_not_make_a_benign_reply_urgent(classifier: UrgencyClassifier) -> None:
    body = f"{BENIGN}\n\nOn Mon, 3 Jun 2024 at 10:02, Jane <j@x.com> wrote:\n> {STOLEN}\n> {STOLEN}"
    assert classifier.score("Re: card", body) < 0.2


def test_keyword_alone_does_not_make_an_email_urgent(classifier: UrgencyClassifier) -> None:
    assert classifier.score("URGENT!!!", "URGENT: what are your opening hours? urgent urgent") < 0.85


def test_a_customers_context_line_does_not_upgrade_an_everyday_question(
    classifier: UrgencyClassifier,
) -> None:
    # alone, this line of the realistic sets read as a lost phone (0.969) and upgraded whatever followed it
    context = "I use the app on my phone and the website on my laptop."
    assert classifier.score("", f"{context} How many ounces are in a cup?") < 0.85
    assert classifier.score("", f"{context} My card was stolen this morning, please block it.") > 0.85


def test_few_false_alarms_on_the_realistic_emails_around_everyday_questions(
    classifier: UrgencyClassifier,
) -> None:
    """The nine realistic CLINC150 sets: 27,180 non-urgent emails, most of them non-banking questions under
    a customer's context and signature (65 false alarms at 0.85 in session 12, 16 in session 13, 15 in
    session 14)."""
    from training.evaluate import REALISTIC_SETS, realistic_sets

    sets = realistic_sets()
    false_alarms = 0
    for name in REALISTIC_SETS:
        texts, labels = sets[f"{name}/clinc150"]
        scores = classifier.model.score_many(texts)
        false_alarms += sum(
            1 for score, urgent in zip(scores, labels, strict=True) if score > 0.85 and not urgent
        )
    assert false_alarms <= 25


def test_most_urgent_banking_queries_clear_the_threshold_without_false_alarms(
    classifier: UrgencyClassifier,
) -> None:
    """The BANKING77 validation queries: session 13's model put .825 of the Urgent ones above 0.85 (at
    precision .992); the short asks between two Urgent intents ("I have an unauthorized charge." 0.769) stayed
    under it until the fit's loss took in the sum of the Urgent classes (.874 at precision .992). These
    queries helped choose that loss: a guard against regressions, not a held-out estimate."""
    from training.data import load_intent_data

    queries = [q for q in load_intent_data().validation if q.source == "banking77"]
    scores = classifier.model.score_many([q.text for q in queries])
    flagged = [q.urgent for q, score in zip(queries, scores, strict=True) if score > 0.85]
    assert flagged
    assert sum(flagged) / sum(q.urgent for q in queries) >= 0.85
    assert sum(flagged) / len(flagged) >= 0.98


def test_wait_trigger_upgrades_a_benign_email(classifier: UrgencyClassifier) -> None:
    decision = classifier.decide("", BENIGN, queue_wait_minutes=16)
    assert decision.urgent
    assert decision.wait_trigger_fired
    assert not decision.by_score


def test_threshold_is_a_parameter(classifier: UrgencyClassifier) -> None:
    score = classifier.score("", STOLEN)
    assert classifier.decide("", STOLEN, threshold=score).urgent is False  # strict
    assert classifier.decide("", STOLEN, threshold=max(0.0, score - 1e-6)).urgent is True


@pytest.mark.parametrize(
    ("subject", "text", "html"),
    [
        ("", "", ""),
        ("   ", " \n\t ", "  "),
        ("", "", "<html><body><div><br></div></body></html>"),
        ("", "\udcff\udcfe broken surrogates", ""),
        ("", "x" * 5_000_000, ""),
        ("", "", "<div>" * 400_000),
    ],
)
def test_bad_input_gives_a_probability_not_an_exception(
    classifier: UrgencyClassifier, subject: str, text: str, html: str
) -> None:
    started = time.perf_counter()
    decision = classifier.decide(subject, text, html)
    assert 0.0 <= decision.score <= 1.0
    assert decision.score < 0.85
    assert time.perf_counter() - started < 2.0


def test_score_many_matches_score(classifier: UrgencyClassifier) -> None:
    emails = [
        ("", STOLEN, ""),
        ("", "", ""),
        ("Re: x", BENIGN, ""),
        ("", "", f"<p>{STOLEN}</p>"),
        ("", "", ""),
    ]
    bulk = classifier.score_many(emails)
    single = [classifier.score(*email) for email in emails]
    assert bulk == pytest.approx(single, abs=1e-6)


def test_runtime_scores_match_the_training_featuriser(classifier: UrgencyClassifier) -> None:
    """Training builds matrices with ``HashedFeaturiser``; the runtime uses a cached path: they must agree."""
    parameters = classifier.model.parameters
    featuriser = HashedFeaturiser(parameters.bits, parameters.length_power)
    dense = np.zeros((featuriser.n_buckets, len(parameters.classes)))
    dense[parameters.buckets.astype(np.intp)] = parameters.row_weights()[:-1]
    for text in (STOLEN, BENIGN, "pin blocked pin blocked", "a"):
        features = featuriser.featurise(text)
        logits = parameters.bias + np.asarray(features.values) @ dense[np.asarray(features.indices)]
        expected = np.exp(logits - logits.max())
        urgent = np.array([c in parameters.urgent_classes for c in parameters.classes])
        log_odds = float(np.log(expected[urgent].sum()) - np.log(expected[~urgent].sum()))
        assert classifier.model.whole_text_log_odds(text) == pytest.approx(log_odds, abs=1e-3)


def test_missing_or_corrupt_artifact_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(ModelArtifactError):
        UrgencyModel.load(tmp_path / "absent.npz")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"not a zip")
    with pytest.raises(ModelArtifactError):
        ModelParameters.read(corrupt)


def test_model_card_describes_the_shipped_artifact() -> None:
    import hashlib

    card = json.loads((DEFAULT_ARTIFACT.parent / "model_card.json").read_text())
    assert card["artifact_sha256"] == hashlib.sha256(DEFAULT_ARTIFACT.read_bytes()).hexdigest()
    assert card["threshold"] == 0.85
    assert set(card["data_sha256"]) >= {"banking77_train.csv", "clinc150_train_val.json"}
    assert "queries/banking77" in card["validation_metrics"]


def test_token_cache_reset_keeps_scores_exact() -> None:
    """The per-token tables are bounded: when full they reset, and scores must not change."""
    texts = [f"my card number {i} word{i} was stolen in town{i} yesterday" for i in range(60)]
    expected = UrgencyModel.load().score_many(texts)
    small = UrgencyModel.load()
    small._table.MAX_TOKENS = 16  # type: ignore[misc]
    got = [small.score(text) for text in texts] + small.score_many(texts)
    assert got == pytest.approx(expected + expected, abs=1e-6)  # float32 sums: rounding, not drift


def test_concurrent_scoring_from_threads_gives_the_same_scores() -> None:
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"my card {i} was stolen near shop{i} and token{i * 7} charged twice" for i in range(200)]
    expected = UrgencyModel.load().score_many(texts)
    shared = UrgencyModel.load()
    shared._table.MAX_TOKENS = 64  # type: ignore[misc]  # force resets while other threads score
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(shared.score, texts))
    assert got == pytest.approx(expected, abs=1e-6)


def test_a_separator_inside_a_text_does_not_split_the_batch() -> None:
    """The bulk path joins texts with NUL: a NUL already in a text must not shift the other texts' scores."""
    model = UrgencyModel.load()
    texts = ["my card was stolen\x00please block it", "what is the weather like", "\x00", "i lost my card"]
    assert model.score_many(texts) == pytest.approx([model.score(text) for text in texts], abs=1e-6)


def test_numbers_are_folded_so_amounts_and_card_digits_generalise() -> None:
    model = UrgencyModel.load()
    assert model.score("someone took 40 pounds with card 1234") == pytest.approx(
        model.score("someone took 975 pounds with card 99"), abs=1e-9
    )


def test_a_batch_that_fills_the_token_table_keeps_its_known_words() -> None:
    """A warm process reaches the table's bound with a batch of known and new words: the reset must not drop
    the known ones (it did: KeyError on the first known word, an intake crash after ~30k distinct words)."""
    expected = UrgencyModel.load().score("my card was stolen please block it")
    small = UrgencyModel.load()
    small._table.MAX_TOKENS = 16  # type: ignore[misc]
    small.score("my card was stolen")  # known words
    new_words = " ".join(f"w{letter}q" for letter in "abcdefghijklmnopqrst")
    batch = [f"my card was stolen {new_words}", "my card was stolen please block it"]
    assert len(small.score_many(batch)) == 2
    assert small.score("my card was stolen please block it") == pytest.approx(expected, abs=1e-9)


def test_the_bank_a_customer_names_moves_the_score_less_than_before_names_were_shuffled() -> None:
    """Bank names are shuffled in training (``training.brands``): which bank is named should barely matter.
    Mean spread over eight banks per ask, in calibrated log-odds (Platt slope x raw log-odds, the scale the
    score is read on; raw log-odds change scale from one training to the next): ~3.9 for the model trained
    without the shuffle (session 6: 5.8 raw), ~4.0 for a control training without it in session 7 (5.7 raw),
    3.2 with it (session 7: 4.5 raw x .708), 3.5 with the written stories (session 12: 5.2 raw x .670)."""
    model = UrgencyModel.load()
    slope = model.parameters.platt_slope
    banks = ("chase", "bank of america", "capital one", "wells fargo", "citibank", "usaa", "pnc", "td bank")
    asks = (
        "can you initiate a block on my {} checking asap",
        "freeze all activity on my {} checking",
        "my {} card was taken",
        "place a hold on my {} account at once",
        "i want to report fraud on my {} card",
        "i'm locked out of my {} account",
        "what is the balance on my {} account",
        "whats the routing number for {}",
    )
    spreads = []
    for ask in asks:
        log_odds = model.raw_log_odds_many([ask.format(bank) for bank in banks])
        spreads.append(slope * (max(log_odds) - min(log_odds)))
    assert sum(spreads) / len(spreads) < 3.7
