"""Training is reproducible (same data, same bytes) and writes an artifact the runtime loads."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from email2chat.classifier.model import UrgencyModel

from training.data import default_data_dir, load_intent_data
from training.metrics import auroc, binary_metrics, expected_calibration_error
from training.train import TrainConfig, train

pytestmark = [
    pytest.mark.skipif(
        not (default_data_dir() / "banking77_train.csv").is_file(),
        reason="../shared/data/intents not present",
    ),
]

# A small subset, few buckets and few iterations: what is tested is reproducibility, not quality.
SMALL = TrainConfig(seed=0, bits=12, max_iter=25, subset_per_class=3)


def test_same_data_gives_the_same_artifact_byte_for_byte(tmp_path: Path) -> None:
    first = train(out_dir=tmp_path / "a", config=SMALL, evaluate_validation=False)
    second = train(out_dir=tmp_path / "b", config=SMALL, evaluate_validation=False)
    assert first.artifact_path.read_bytes() == second.artifact_path.read_bytes()
    assert first.card_path.read_bytes() == second.card_path.read_bytes()
    assert (tmp_path / "a" / "MODEL_CARD.md").read_bytes() == (tmp_path / "b" / "MODEL_CARD.md").read_bytes()


def test_another_seed_gives_another_artifact(tmp_path: Path) -> None:
    first = train(out_dir=tmp_path / "a", config=SMALL, evaluate_validation=False)
    other = TrainConfig(
        seed=1, bits=SMALL.bits, max_iter=SMALL.max_iter, subset_per_class=SMALL.subset_per_class
    )
    second = train(out_dir=tmp_path / "b", config=other, evaluate_validation=False)
    assert first.artifact_path.read_bytes() != second.artifact_path.read_bytes()


def test_card_records_data_hashes_config_and_date(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    result = train(out_dir=tmp_path, config=SMALL, evaluate_validation=False)
    card = json.loads(result.card_path.read_text())
    assert card["date"] == "2023-11-14"
    assert card["data_sha256"] == load_intent_data().file_sha256
    assert card["config"]["bits"] == 12
    assert card["threshold"] == 0.85
    model = UrgencyModel.load(result.artifact_path)
    assert 0.0 <= model.score("my card was stolen") <= 1.0


def test_missing_data_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="intent data not found"):
        train(data_dir=tmp_path, out_dir=tmp_path / "out", config=SMALL)


def test_banking_validation_split_is_disjoint_from_training() -> None:
    data = load_intent_data()
    train_texts = {(q.source, q.text) for q in data.train}
    assert not any((q.source, q.text) in train_texts for q in data.validation if q.source == "banking77")
    assert sum(q.urgent for q in data.validation) > 300


def test_metrics_on_known_cases() -> None:
    labels = [True, True, False, False]
    assert auroc(*_arrays(labels, [0.9, 0.8, 0.3, 0.1])) == 1.0
    assert auroc(*_arrays(labels, [0.1, 0.2, 0.8, 0.9])) == 0.0
    assert auroc(*_arrays(labels, [0.5, 0.5, 0.5, 0.5])) == 0.5
    assert expected_calibration_error(*_arrays([True, False], [1.0, 0.0])) == 0.0
    assert expected_calibration_error(*_arrays([False, False], [0.9, 0.9])) == pytest.approx(0.9)
    metrics = binary_metrics(labels, [0.9, 0.85, 0.86, 0.1], threshold=0.85)  # 0.85 is not > 0.85
    assert metrics.precision == 0.5
    assert metrics.recall == 0.5


def _arrays(labels: list[bool], scores: list[float]):  # type: ignore[no-untyped-def]
    import numpy as np

    return np.asarray(labels, dtype=bool), np.asarray(scores, dtype=np.float64)


def test_train_and_evaluate_commands_from_the_command_line(tmp_path: Path) -> None:
    from simulator.cli import main

    out = tmp_path / "artifact"
    assert (
        main(["train", "--out", str(out), "--bits", "12", "--max-iter", "25", "--subset-per-class", "3"]) == 0
    )
    assert (out / "urgency_model.npz").is_file()
    assert (out / "MODEL_CARD.md").read_text().startswith("# Urgency model card")
    assert main(["evaluate", "--model", str(out / "urgency_model.npz"), "--json"]) == 0


def test_commands_report_missing_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from simulator.cli import main

    assert main(["evaluate", "--data", str(tmp_path)]) == 2
    assert "intent data not found" in capsys.readouterr().err


def test_reference_scores_probabilities_on_normalised_and_raw_emails() -> None:
    from training.evaluate import raw_email_sets, reference_scorer, validation_sets

    data = load_intent_data()
    small_train = [q for i, q in enumerate(data.train) if i % 20 == 0]
    scorer = reference_scorer(small_train)
    normalised = validation_sets(data, seed=0)
    raw = raw_email_sets(data, seed=0)
    for source in ("banking77", "clinc150"):
        raw_texts, raw_labels = raw[f"raw-email/{source}"]
        assert raw_labels == normalised[f"emails/{source}"][1]  # the same emails, in the same order
        scores = scorer(raw_texts)
        assert len(scores) == len(raw_texts)
        assert all(0.0 <= s <= 1.0 for s in scores)
    texts, labels = normalised["queries/banking77"]
    assert auroc(np.array(labels), np.array(scorer(texts))) > 0.9  # a real model, even on 5 % of the data


def test_competing_intents_are_the_non_urgent_intents_closest_to_an_urgent_one() -> None:
    from email2chat.classifier.features import HashedFeaturiser

    from training.data import Query
    from training.train import class_of, competing_intents

    def queries(intent: str, urgent: bool, texts: list[str]) -> list[Query]:
        return [Query(text, intent, "bank", urgent) for text in texts]

    data = (
        queries("card_stolen", True, ["my card was stolen", "someone stole my card", "card stolen today"])
        + queries("card_arrival", False, ["my card has not arrived", "where is my card", "card not here yet"])
        + queries("weather", False, ["is it going to rain", "weather forecast for today", "will it be sunny"])
        + queries("recipes", False, ["how do i bake bread", "a recipe for soup", "cooking pasta at home"])
    )
    featuriser = HashedFeaturiser(bits=14, length_power=0.4)
    assert competing_intents(data, featuriser, 1) == {("bank", "card_arrival")}
    assert competing_intents(data, featuriser, 0) == frozenset()
    assert len(competing_intents(data, featuriser, 10)) == 3  # never more than the non-urgent intents
    competing = competing_intents(data, featuriser, 1)
    assert class_of(data[0], competing) == "bank:card_stolen"
    assert class_of(data[3], competing) == "bank:card_arrival"
    assert class_of(data[6], competing) == "bank:other"


def test_the_frozen_realistic_emails_are_one_per_validation_query_with_its_label() -> None:
    from training.evaluate import REALISTIC_SETS, SOURCES, realistic_sets

    data = load_intent_data()
    sets = realistic_sets()
    assert sorted(sets) == sorted(f"{name}/{source}" for name in REALISTIC_SETS for source in SOURCES)
    for source in SOURCES:
        labels = [q.urgent for q in data.validation if q.source == source]
        for name in REALISTIC_SETS:
            texts, realistic_labels = sets[f"{name}/{source}"]
            assert sorted(realistic_labels) == sorted(labels)  # the same queries, wrapped
            assert sum(1 for text in texts if text.strip()) >= 0.99 * len(texts)  # a message survives


def test_every_training_query_calibrates_out_of_fold(tmp_path: Path) -> None:
    card = train(out_dir=tmp_path, config=SMALL, evaluate_validation=False).card
    facts = card["training"]
    assert isinstance(facts, dict)
    # each query once bare and once wrapped, scored by the model of the folds it is not in
    assert facts["calibration_examples"] == 2 * facts["final_fit_queries"]
    assert card["config"]["calibration_folds"] == 5  # type: ignore[index]


def test_fewer_than_two_calibration_folds_is_a_clear_error(tmp_path: Path) -> None:
    one_fold = TrainConfig(seed=0, bits=12, max_iter=25, subset_per_class=3, calibration_folds=1)
    with pytest.raises(ValueError, match="calibration_folds must be at least 2"):
        train(out_dir=tmp_path, config=one_fold, evaluate_validation=False)


def test_the_written_stories_are_labelled_by_the_intent_table_and_never_validation() -> None:
    from training.data import URGENT_INTENTS

    data = load_intent_data()
    assert len(data.stories) == 3290
    assert sum(q.urgent for q in data.stories) == 840
    assert all(q.urgent == (q.intent in URGENT_INTENTS[q.source]) for q in data.stories)
    assert not {q.text for q in data.stories} & {q.text for q in data.validation}
    assert not set(data.stories) & set(data.train)


def test_a_story_with_an_unknown_intent_is_a_clear_error(tmp_path: Path) -> None:
    import gzip

    from training.data import load_stories

    path = tmp_path / "stories.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write(json.dumps({"source": "banking77", "intent": "card_arrival", "text": "where is it"}) + "\n")
        out.write(json.dumps({"source": "banking77", "intent": "no_such_intent", "text": "hm"}) + "\n")
    with pytest.raises(ValueError, match="line 2: unknown intent banking77/no_such_intent"):
        load_stories({("banking77", "card_arrival")}, path)
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write(json.dumps({"source": "banking77", "intent": "card_arrival"}) + "\n")
    with pytest.raises(ValueError, match=r"line 1: not a \{source, intent, text\} object"):
        load_stories({("banking77", "card_arrival")}, path)


def test_stories_join_training_unless_switched_off(tmp_path: Path) -> None:
    with_stories = train(out_dir=tmp_path / "a", config=SMALL, evaluate_validation=False).card
    without = replace(SMALL, stories=False)
    card = train(out_dir=tmp_path / "b", config=without, evaluate_validation=False).card
    assert with_stories["training"]["stories_in_training"] > 0  # type: ignore[index]
    assert card["training"]["stories_in_training"] == 0  # type: ignore[index]
    assert card["config"]["stories"] is False  # type: ignore[index]
    assert card["training"]["story_sentences_in_training"] == 0  # type: ignore[index]
    assert card["config"]["story_sentences"] is False  # type: ignore[index]


def test_a_non_urgent_clinc150_story_also_trains_sentence_by_sentence() -> None:
    from training.data import Query, story_sentences

    app = "I use the app on my phone. How many ounces are in a cup?"
    weather = "Ok. Are you a robot?\nWhat's the weather like in Leeds today?\nThanks a lot"
    stories = [
        Query(app, "measurement_conversion", "clinc150", False),
        Query("My card was stolen. Please freeze my account now.", "freeze_account", "clinc150", True),
        Query(
            "I was only given $20 after trying to withdraw $100. Why the fee?",
            "atm_support",
            "banking77",
            False,
        ),
        Query("Roll a dice for me please.", "roll_dice", "clinc150", False),  # one sentence: the story itself
        Query(weather, "weather", "clinc150", False),
    ]
    # a known text (a training or validation query) is left out whatever its case and punctuation
    sentences = story_sentences(stories, known_texts={"are you a robot", "Thanks a lot"})
    assert [(q.text, q.intent, q.source, q.urgent, story) for q, story in sentences] == [
        ("How many ounces are in a cup?", "measurement_conversion", "clinc150", False, app),
        ("I use the app on my phone.", "measurement_conversion", "clinc150", False, app),
        ("What's the weather like in Leeds today?", "weather", "clinc150", False, weather),
    ]
    assert (
        story_sentences(list(reversed(stories)), known_texts={"are you a robot", "Thanks a lot"}) == sentences
    )


def test_the_story_sentences_train_unless_switched_off(tmp_path: Path) -> None:
    with_sentences = train(out_dir=tmp_path / "a", config=SMALL, evaluate_validation=False)
    without = replace(SMALL, story_sentences=False)
    card = train(out_dir=tmp_path / "b", config=without, evaluate_validation=False).card
    assert with_sentences.card["training"]["story_sentences_in_training"] > 0  # type: ignore[index]
    assert card["training"]["story_sentences_in_training"] == 0  # type: ignore[index]
    assert card["config"]["story_sentences"] is False  # type: ignore[index]
    assert "sentences" not in str(card["model"])
    assert with_sentences.artifact_path.read_bytes() != (tmp_path / "b" / "urgency_model.npz").read_bytes()


def test_the_hand_written_emails_are_150_urgent_and_150_not_each() -> None:
    from training.evaluate import written_sets

    sets = written_sets()
    assert sorted(sets) == ["written/blind", "written/dev"]
    for texts, labels in sets.values():
        assert (len(texts), sum(labels)) == (300, 150)
        assert all(text.strip() for text in texts)  # every email keeps a message
