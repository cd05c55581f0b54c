"""Train the urgency model from the intent data and write the artifact and its model card into the layer.

Reproducible: inputs are sorted, every random choice comes from ``random.Random(seed)``, the solver is
deterministic (L-BFGS for a fixed number of iterations, single thread), and the artifact is written with
fixed zip dates; the model card's date comes from ``SOURCE_DATE_EPOCH`` (or the data snapshot date), never
the wall clock.
Same data, same bytes.

Recipe:
0. The training queries are the data sets' and the written stories (``training/stories``: messages that tell
   a problem through its details, as emails do), unless ``stories`` is off; with ``story_sentences``, also
   each sentence of a non-urgent CLINC150 story alone (``data.story_sentences``): the runtime reads an
   email's sentences one by one too.
1. In every training query, bank and card-network names are replaced by others drawn at random
   (``brands``): the name a customer banks with is no evidence of an intent.
   In the intents with a class of their own, a time phrase an intent's template overused ("why was my card
   declined yesterday") is removed from most of its queries (``time_phrases``): when is no evidence of what.
2. Training queries are split (by a hash of the text as written, a story's sentences with their story) into
   ``calibration_folds`` folds (5).
3. Each query is used bare and wrapped in a synthetic email (``wrappers.TRAIN``), normalised exactly as at
   runtime, so the model learns what the normaliser leaves behind.
4. A softmax logistic regression over classes = each Urgent intent, each of the non-urgent intents closest to
   an Urgent one (``competing_intents``), and one "other" class per source, on hashed features, an Urgent
   example counting ``urgent_weight`` times; the loss adds ``decision_weight`` times the log-loss of
   P(Urgent), the sum the runtime decides on (``softmax``); weights quantised to int8 (used buckets only).
5. Platt calibration of the Urgent log-odds, out of fold: each fold's queries (bare and wrapped) are scored
   by a model fitted on the other folds, by the runtime model itself (quantised weights included), so the
   calibration describes exactly what Lambda computes. Every training query calibrates: a single held-out
   15 % part (the recipe before session 6) left the Platt slope +-.046 (bootstrap), enough to move recall at
   0.85 by +-.02 between near-identical trainings.
6. The shipped weights are fitted on all training queries (same recipe) and keep step 5's Platt parameters:
   the validation ECE checks that the borrowed calibration still holds.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from email2chat.classifier.features import HashedFeaturiser
from email2chat.classifier.model import ARTIFACT_DIR, ModelParameters, UrgencyModel
from email2chat.classifier.normalise import normalise_email
from threadpoolctl import threadpool_limits

from training.brands import with_brand_names_shuffled
from training.data import IntentData, Query, load_intent_data, query_order, story_sentences
from training.softmax import SoftmaxProblem, fit_softmax
from training.time_phrases import DEFAULT_CAP, with_overused_time_phrases_thinned
from training.wrappers import TRAIN, EmailParts, WrapperFamily, wrap_query

DATA_SNAPSHOT_DATE = (
    "2026-11-26"  # when the intent data snapshot was taken (used when SOURCE_DATE_EPOCH is unset)
)
DEFAULT_CALIBRATION_FOLDS = 5
DEFAULT_BITS = 18
DEFAULT_C = 25.0
DEFAULT_LENGTH_POWER = 0.4
# The non-urgent intents closest to an Urgent one compete as classes of their own ("card_arrival" vs
# "lost_or_stolen_card", "damaged_card" vs "report_lost_card"); the rest are one "other" class per source.
DEFAULT_COMPETING_INTENTS = 36
# The solver runs exactly this many lbfgs iterations (no tolerance to stop on): stopping early is part of the
# regularisation, and every fit of the recipe (each calibration fold and the final one) stopping at the same
# count keeps the final model's log-odds on the scale its out-of-fold calibration was fitted on. With a
# tolerance (1e-4 until session 7) each fit stopped where it happened to (38 and 53 iterations in two
# trainings), which moved recall at 0.85 by up to .06 between trainings of near-identical data. Converged
# (189 iterations, 12 min per fit) ranks no better (training/EXPERIMENTS.md, session 7).
DEFAULT_MAX_ITER = 50
# Each example of an Urgent class counts this many times in the fit: the Urgent intents are 14 of 52 classes,
# a few hundred examples each against thousands in an "other" class. 1.5 ranks better on 15 of 16 validation
# rows (AUROC and average precision) and keeps precision at 0.85; 2 and 3 rank a few non-urgent emails higher
# still (training/EXPERIMENTS.md).
DEFAULT_URGENT_WEIGHT = 1.5
# The fit adds this many times the log-loss of P(Urgent), the sum of the Urgent classes, to the softmax's
# cross-entropy (training/softmax.py): the product decides on the sum, and plain cross-entropy spends as much
# on telling two Urgent intents apart as on telling Urgent from routine. 2 ranks better than 0 on 20 of the
# 24 validation rows and no worse on the others (AUROC); 0.5, 1, 3 and 10 less (training/EXPERIMENTS.md,
# session 14).
DEFAULT_DECISION_WEIGHT = 2.0
QUOTE_PROBABILITY = 0.5


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    bits: int = DEFAULT_BITS
    length_power: float = DEFAULT_LENGTH_POWER
    regularisation_c: float = DEFAULT_C
    max_iter: int = DEFAULT_MAX_ITER
    emails_per_query: int = 1
    subset_per_class: int | None = None  # small deterministic subsets for fast tests
    calibration_folds: int = DEFAULT_CALIBRATION_FOLDS  # step 5 of the recipe
    competing_intents: int = DEFAULT_COMPETING_INTENTS  # non-urgent intents that get a class of their own
    urgent_weight: float = DEFAULT_URGENT_WEIGHT  # of an Urgent example in the fit
    decision_weight: float = DEFAULT_DECISION_WEIGHT  # of the log-loss of P(Urgent) beside the cross-entropy
    time_phrase_cap: float = DEFAULT_CAP  # x a time phrase's overall rate an own-class intent keeps; 0: off
    stories: bool = True  # train on ``training/stories`` too (step 0 of the recipe)
    story_sentences: bool = True  # and on the sentences of its non-urgent CLINC150 stories alone


@dataclass(frozen=True)
class TrainResult:
    parameters: ModelParameters
    artifact_path: Path
    card_path: Path
    card: dict[str, object]


def class_of(query: Query, competing: frozenset[tuple[str, str]] = frozenset()) -> str:
    """Urgent intents and the ``competing`` non-urgent ones are classes of their own; the other intents are
    one class per source."""
    if query.urgent or (query.source, query.intent) in competing:
        return f"{query.source}:{query.intent}"
    return f"{query.source}:other"


def competing_intents(
    queries: Sequence[Query], featuriser: HashedFeaturiser, count: int
) -> frozenset[tuple[str, str]]:
    """The ``count`` non-urgent intents whose queries read most like an Urgent intent's.

    Closeness is the cosine between intent centroids of the hashed features (the largest over the Urgent
    intents): cheap, deterministic, and no model needed. A class of its own lets the softmax draw the line
    between near neighbours ("my card has not arrived" vs "my card was stolen"); far intents (travel,
    cooking, top-ups) share one class per source, which keeps the runtime's per-token vectors short.
    """
    if count <= 0:
        return frozenset()
    intents = sorted({(q.source, q.intent) for q in queries})
    index = {intent: i for i, intent in enumerate(intents)}
    urgent = np.zeros(len(intents), dtype=bool)
    urgent[[index[(q.source, q.intent)] for q in queries if q.urgent]] = True
    if not urgent.any():
        return frozenset()
    members = np.array([index[(q.source, q.intent)] for q in queries])
    membership = sp.csr_matrix(
        (np.ones(len(queries)), (members, np.arange(len(queries)))), shape=(len(intents), len(queries))
    )
    features = _matrix(featuriser, [q.text for q in queries])
    centroids = sp.csr_matrix(membership @ features)  # kept sparse: a dense one is 2^bits wide per intent
    norms = np.sqrt(np.asarray(centroids.multiply(centroids).sum(axis=1)).ravel())
    centroids = sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-12)) @ centroids)
    with threadpool_limits(limits=1):
        cosines = (centroids @ centroids[np.flatnonzero(urgent)].T).toarray()
    # rounded so that the last digits of a float sum cannot reorder near-ties from one machine to another
    closeness = np.round(cosines.max(axis=1), 9)
    ranked = sorted((i for i in range(len(intents)) if not urgent[i]), key=lambda i: (-closeness[i], i))
    return frozenset(intents[i] for i in ranked[:count])


def _calibration_fold(text: str, folds: int) -> int:
    return zlib.crc32(("calibration:" + text).encode("utf-8")) % folds


def synthetic_emails(
    queries: Sequence[Query], family: WrapperFamily, seed: int, per_query: int = 1
) -> list[tuple[Query, EmailParts]]:
    """Each query wrapped ``per_query`` times; half of them quote another query (urgent or not) as history."""
    rng = random.Random(f"{family.name}:{seed}")
    emails: list[tuple[Query, EmailParts]] = []
    for _ in range(per_query):
        for query in queries:
            quoted = queries[rng.randrange(len(queries))].text if rng.random() < QUOTE_PROBABILITY else None
            emails.append((query, wrap_query(query.text, quoted, family, rng)))
    return emails


def model_text_of(email: EmailParts) -> str:
    return normalise_email(email.subject, email.text, email.html).model_text()


def _subset(queries: Sequence[Query], per_class: int | None) -> list[Query]:
    if per_class is None:
        return list(queries)
    seen: dict[str, int] = {}
    kept: list[Query] = []
    for query in queries:
        key = f"{query.source}:{query.intent}"
        if seen.get(key, 0) < per_class:
            seen[key] = seen.get(key, 0) + 1
            kept.append(query)
    return kept


def _matrix(featuriser: HashedFeaturiser, texts: Sequence[str]) -> sp.csr_matrix:
    rows = featuriser.featurise_many(texts)
    indptr = np.cumsum([0, *(len(row.indices) for row in rows)])
    indices = np.fromiter((i for row in rows for i in row.indices), dtype=np.int64, count=int(indptr[-1]))
    values = np.fromiter((v for row in rows for v in row.values), dtype=np.float64, count=int(indptr[-1]))
    matrix = sp.csr_matrix((values, indices, indptr), shape=(len(rows), featuriser.n_buckets))
    matrix.sum_duplicates()
    return matrix


def _card_date() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return datetime.fromtimestamp(int(epoch), tz=UTC).strftime("%Y-%m-%d")
    return DATA_SNAPSHOT_DATE


@dataclass(frozen=True)
class _SoftmaxFit:
    classes: tuple[str, ...]
    coefficients: np.ndarray  # (n_classes, n_buckets)
    intercepts: np.ndarray  # (n_classes,)
    examples: int
    iterations: int


def _fit_softmax(
    queries: Sequence[Query], config: TrainConfig, competing: frozenset[tuple[str, str]]
) -> _SoftmaxFit:
    """Each query bare and wrapped in a ``TRAIN`` email, normalised as at runtime; a softmax over classes."""
    emails = synthetic_emails(queries, TRAIN, config.seed, config.emails_per_query)
    texts = [q.text for q in queries] + [model_text_of(email) for _, email in emails]
    examples = [*queries, *(q for q, _ in emails)]
    labels = [class_of(q, competing) for q in examples]
    classes = sorted(set(labels))
    label_index = {name: i for i, name in enumerate(classes)}
    urgent_classes = {label for label, q in zip(labels, examples, strict=True) if q.urgent}
    problem = SoftmaxProblem(
        features=_matrix(HashedFeaturiser(config.bits, config.length_power), texts),
        targets=np.array([label_index[label] for label in labels], dtype=np.intp),
        weights=np.array([config.urgent_weight if q.urgent else 1.0 for q in examples]),
        urgent_classes=np.array([name in urgent_classes for name in classes]),
        regularisation_c=config.regularisation_c,
        decision_weight=config.decision_weight,
    )
    solution = fit_softmax(problem, config.max_iter)
    return _SoftmaxFit(
        tuple(classes), solution.coefficients, solution.intercepts, len(texts), solution.iterations
    )


def _parameters_of(
    fit: _SoftmaxFit, config: TrainConfig, urgent_intents: set[str], platt: tuple[float, float]
) -> ModelParameters:
    buckets, quantised, scales = ModelParameters.quantise(fit.coefficients.T)
    return ModelParameters(
        bits=config.bits,
        length_power=config.length_power,
        classes=fit.classes,
        urgent_classes=tuple(name for name in fit.classes if name in urgent_intents),
        buckets=buckets,
        quantised=quantised,
        scales=scales,
        bias=fit.intercepts.astype(np.float32),
        platt_slope=platt[0],
        platt_intercept=platt[1],
    )


def _held_out_log_odds(
    fit_queries: Sequence[Query],
    held_out: Sequence[Query],
    config: TrainConfig,
    competing: frozenset[tuple[str, str]],
    urgent_intents: set[str],
) -> tuple[list[float], list[bool]]:
    """Uncalibrated log-odds of ``held_out`` (bare and wrapped), by the runtime model fitted on
    ``fit_queries``."""
    runtime = UrgencyModel(
        _parameters_of(_fit_softmax(fit_queries, config, competing), config, urgent_intents, (1.0, 0.0))
    )
    emails = synthetic_emails(held_out, TRAIN, config.seed + 1)
    texts = [q.text for q in held_out] + [model_text_of(e) for _, e in emails]
    labels = [q.urgent for q in held_out] + [q.urgent for q, _ in emails]
    return runtime.raw_log_odds_many(texts), labels


def fit_parameters(data: IntentData, config: TrainConfig) -> tuple[ModelParameters, dict[str, object]]:
    from sklearn.linear_model import LogisticRegression  # training only: never imported by the runtime

    if config.calibration_folds < 2:
        raise ValueError("calibration_folds must be at least 2")
    stories = data.stories if config.stories else ()
    known_texts = (q.text for q in (*data.train, *data.validation))
    story_of = dict(story_sentences(stories, known_texts)) if config.story_sentences else {}
    sentences = tuple(story_of)
    queries = sorted([*data.train, *stories, *sentences], key=query_order)
    train_queries = _subset(queries, config.subset_per_class)
    # folds by the text as written (before step 1), a story's sentences in its story's fold
    fold_texts = [story_of.get(q, q.text) for q in train_queries]
    story_set, sentence_set = set(stories), set(sentences)
    stories_in_training = sum(1 for q in train_queries if q in story_set)
    story_sentences_in_training = sum(1 for q in train_queries if q in sentence_set)
    urgent_intents = {class_of(q) for q in train_queries if q.urgent}
    featuriser = HashedFeaturiser(config.bits, config.length_power)
    competing = competing_intents(train_queries, featuriser, config.competing_intents)
    shuffled = with_brand_names_shuffled(train_queries, config.seed)  # step 1 of the recipe
    brand_names_shuffled = sum(new is not old for new, old in zip(shuffled, train_queries, strict=True))
    own_class_intents = {(q.source, q.intent) for q in shuffled if q.urgent} | competing
    thinned = with_overused_time_phrases_thinned(
        shuffled, own_class_intents, config.seed, cap=config.time_phrase_cap
    )
    time_phrases_thinned = sum(new is not old for new, old in zip(thinned, shuffled, strict=True))
    train_queries = thinned

    folds = [_calibration_fold(text, config.calibration_folds) for text in fold_texts]
    log_odds: list[float] = []
    labels: list[bool] = []
    for fold in range(config.calibration_folds):
        fit_queries = [q for q, f in zip(train_queries, folds, strict=True) if f != fold]
        held_out = [q for q, f in zip(train_queries, folds, strict=True) if f == fold]
        fold_log_odds, fold_labels = _held_out_log_odds(
            fit_queries, held_out, config, competing, urgent_intents
        )
        log_odds += fold_log_odds
        labels += fold_labels
    platt = LogisticRegression(C=1e4, max_iter=1000).fit(np.array(log_odds).reshape(-1, 1), np.array(labels))
    platt_parameters = (round(float(platt.coef_[0][0]), 6), round(float(platt.intercept_[0]), 6))

    started = time.perf_counter()
    final = _fit_softmax(train_queries, config, competing)
    fit_seconds = time.perf_counter() - started
    parameters = _parameters_of(final, config, urgent_intents, platt_parameters)
    training_facts: dict[str, object] = {
        "calibration_examples": len(log_odds),
        "calibration_folds": config.calibration_folds,
        "final_fit_examples": final.examples,
        "final_fit_queries": len(train_queries),
        "stories_in_training": stories_in_training,
        "story_sentences_in_training": story_sentences_in_training,
        "queries_with_brand_names_shuffled": brand_names_shuffled,
        "queries_with_time_phrases_thinned": time_phrases_thinned,
        "classes": list(final.classes),
        "solver_iterations": final.iterations,
        "fit_seconds_not_reproducible": round(fit_seconds, 1),
    }
    return parameters, training_facts


def model_description(config: TrainConfig) -> str:
    """The model card's one-line description of what ``config`` trains."""
    return (
        "softmax over the Urgent intents, the non-urgent intents closest to them and one 'other' class "
        "per source, on hashed word/char n-grams, trained on the data sets' queries"
        + (", written stories" if config.stories else "")
        + (
            " and the sentences of the non-urgent CLINC150 stories"
            if config.stories and config.story_sentences
            else ""
        )
        + ", bank names shuffled, overused time phrases thinned, Urgent examples weighted; "
        + (
            f"the log-loss of P(Urgent) added {config.decision_weight:g} times to the cross-entropy; "
            if config.decision_weight
            else ""
        )
        + f"sentence-pooled; Platt-calibrated out of fold ({config.calibration_folds} folds), fitted on all "
        "training queries; int8 weights"
    )


def train(
    data_dir: Path | None = None,
    out_dir: Path | None = None,
    config: TrainConfig | None = None,
    *,
    evaluate_validation: bool = True,
) -> TrainResult:
    config = config or TrainConfig()
    out = out_dir or ARTIFACT_DIR
    data = load_intent_data(data_dir)
    parameters, facts = fit_parameters(data, config)
    artifact_path = out / "urgency_model.npz"
    parameters.write(artifact_path)

    metrics: dict[str, object] = {}
    if evaluate_validation:
        from training.evaluate import evaluate_model

        report = evaluate_model(UrgencyModel(parameters), data, seed=config.seed)
        metrics = report.as_card_metrics()
    facts.pop("fit_seconds_not_reproducible", None)  # keep the card reproducible
    card: dict[str, object] = {
        "model": model_description(config),
        "date": _card_date(),
        "artifact": artifact_path.name,
        "artifact_sha256": hashlib.sha256(artifact_path.read_bytes()).hexdigest(),
        "artifact_bytes": artifact_path.stat().st_size,
        "data_sha256": data.file_sha256,
        "label": "Urgent = intent in the table of ../shared/data/intents/README.md",
        "threshold": 0.85,
        "wait_trigger_minutes": 15.0,
        "calibration": {
            "method": "platt",
            "slope": parameters.platt_slope,
            "intercept": parameters.platt_intercept,
        },
        "config": {
            "seed": config.seed,
            "bits": config.bits,
            "length_power": config.length_power,
            "C": config.regularisation_c,
            "max_iter": config.max_iter,
            "emails_per_query": config.emails_per_query,
            "subset_per_class": config.subset_per_class,
            "competing_intents": config.competing_intents,
            "calibration_folds": config.calibration_folds,
            "urgent_weight": config.urgent_weight,
            "decision_weight": config.decision_weight,
            "time_phrase_cap": config.time_phrase_cap,
            "stories": config.stories,
            "story_sentences": config.stories and config.story_sentences,
        },
        "training": facts,
        "validation_metrics": metrics,
    }
    card_path = out / "model_card.json"
    card_path.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out / "MODEL_CARD.md").write_text(render_model_card(card), encoding="utf-8")
    return TrainResult(parameters=parameters, artifact_path=artifact_path, card_path=card_path, card=card)


def render_model_card(card: dict[str, object]) -> str:
    lines = [
        "# Urgency model card",
        "",
        f"- Model: {card['model']}",
        f"- Date: {card['date']} (from SOURCE_DATE_EPOCH or the data snapshot; never the wall clock)",
        f"- Artifact: `{card['artifact']}`, {card['artifact_bytes']} bytes, "
        f"sha256 `{card['artifact_sha256']}`",
        f"- Label: {card['label']}",
        f"- Decision: urgent when score > {card['threshold']} or the customer waited more than "
        f"{card['wait_trigger_minutes']} minutes in queue",
        f"- Calibration: {json.dumps(card['calibration'], sort_keys=True)}",
        f"- Training config: {json.dumps(card['config'], sort_keys=True)}",
        "",
        "## Data (sha256)",
        "",
    ]
    data_hashes = card["data_sha256"]
    assert isinstance(data_hashes, dict)
    lines += [f"- `{name}`: `{digest}`" for name, digest in sorted(data_hashes.items())]
    metrics = card.get("validation_metrics") or {}
    if isinstance(metrics, dict) and metrics:
        lines += [
            "",
            "## Validation (BANKING77 20 % hash split, CLINC150 val + oos_val; emails use unseen wrappers)",
            "",
            "| set | source | n | positives | precision | recall | F1 | AUROC | ECE |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for key, row in sorted(metrics.items()):
            set_name, _, source = key.partition("/")
            lines.append(
                f"| {set_name} | {source} | {row['n']} | {row['positives']} | {row['precision']:.3f} | "
                f"{row['recall']:.3f} | {row['f1']:.3f} | {row['auroc']:.4f} | {row['ece']:.4f} |"
            )
    lines += [
        "",
        "## Limits",
        "",
        "- The label is a proxy (intent tables of two public query data sets), not real labelled emails.",
        "- English only; emails are taught by synthetic wrappers, not real mail.",
        "- Calibration is fitted on data with the training mix of Urgent (~7 %); other base rates shift it.",
        "- The two sets disagree on the same words, which caps precision and recall: 'lost my phone' is "
        "urgent in 23 BANKING77 queries (`lost_or_stolen_phone`) and not in 6 CLINC150 ones (`find_phone`; "
        "'i have lost my phone' scores 0.81); 'forgot my PIN' is urgent in BANKING77 `pin_blocked` (4) and "
        "not in CLINC150 `pin_change` (4).",
        "- BANKING77 labels are ambiguous near the boundary: 'I withdraw money abroad but I didn't get the "
        "right amount.' is not urgent (`wrong_exchange_rate_for_cash_withdrawal`), 'Can you tell me the "
        "status of my new card?' is urgent (`lost_or_stolen_card`). Even with a free threshold, recall at "
        "precision 0.98 tops out near 0.90 (queries) and 0.84 (emails) on BANKING77 validation for this "
        "model family (0.89 and 0.94 on CLINC150; 0.63-0.94 on the realistic email sets, 0.26 on `mixed` "
        "CLINC150, where an urgent subject from an older thread heads a body asking something else).",
        "",
    ]
    return "\n".join(lines)
