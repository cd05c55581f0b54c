"""``email2chat train``: rebuild the urgency model from the intent data, write the artifact and model card."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training.data import default_data_dir


def configure(parser: argparse.ArgumentParser) -> None:
    from training.time_phrases import DEFAULT_CAP
    from training.train import (
        DEFAULT_BITS,
        DEFAULT_C,
        DEFAULT_COMPETING_INTENTS,
        DEFAULT_DECISION_WEIGHT,
        DEFAULT_LENGTH_POWER,
        DEFAULT_MAX_ITER,
        DEFAULT_URGENT_WEIGHT,
    )

    parser.add_argument(
        "--data", type=Path, default=None, help=f"intent data (default: {default_data_dir()})"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: the layer's artifact/)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--bits",
        type=int,
        default=DEFAULT_BITS,
        help="hash buckets = 2**bits (above 18 the solver needs many GB)",
    )
    parser.add_argument(
        "--C", dest="regularisation_c", type=float, default=DEFAULT_C, help="inverse L2 strength"
    )
    parser.add_argument(
        "--max-iter", type=int, default=DEFAULT_MAX_ITER, help="L-BFGS iterations, exactly (no tolerance)"
    )
    parser.add_argument(
        "--length-power", type=float, default=DEFAULT_LENGTH_POWER, help="n-gram value = count ** -power"
    )
    parser.add_argument(
        "--competing-intents",
        type=int,
        default=DEFAULT_COMPETING_INTENTS,
        help="how many non-urgent intents (the closest to an Urgent one) get a class of their own",
    )
    parser.add_argument(
        "--urgent-weight",
        type=float,
        default=DEFAULT_URGENT_WEIGHT,
        help="how many times an example of an Urgent intent counts in the fit",
    )
    parser.add_argument(
        "--decision-weight",
        type=float,
        default=DEFAULT_DECISION_WEIGHT,
        help="weight of the log-loss of P(Urgent) (the sum of the Urgent classes) beside the cross-entropy",
    )
    parser.add_argument(
        "--time-phrase-cap",
        type=float,
        default=DEFAULT_CAP,
        help="times a time phrase's overall rate that an own-class intent keeps (0: no thinning)",
    )
    parser.add_argument(
        "--no-stories", action="store_true", help="train on the data sets only, not on training/stories"
    )
    parser.add_argument(
        "--no-story-sentences",
        action="store_true",
        help="do not train on the sentences of the non-urgent CLINC150 stories alone",
    )
    parser.add_argument("--subset-per-class", type=int, default=None, help="train on a small subset (tests)")
    parser.add_argument("--no-evaluate", action="store_true", help="skip the validation metrics in the card")


def run(args: argparse.Namespace) -> int:
    from training.evaluate import EvaluationReport
    from training.metrics import BinaryMetrics
    from training.train import TrainConfig, train

    config = TrainConfig(
        seed=args.seed,
        bits=args.bits,
        regularisation_c=args.regularisation_c,
        max_iter=args.max_iter,
        length_power=args.length_power,
        subset_per_class=args.subset_per_class,
        competing_intents=args.competing_intents,
        urgent_weight=args.urgent_weight,
        decision_weight=args.decision_weight,
        time_phrase_cap=args.time_phrase_cap,
        stories=not args.no_stories,
        story_sentences=not args.no_story_sentences,
    )
    try:
        result = train(args.data, args.out, config, evaluate_validation=not args.no_evaluate)
    except FileNotFoundError as exc:
        print(f"email2chat train: {exc}", file=sys.stderr)
        return 2
    print(f"artifact: {result.artifact_path} ({result.card['artifact_bytes']} bytes)")
    print(f"model card: {result.card_path}")
    metrics = result.card.get("validation_metrics")
    if isinstance(metrics, dict) and metrics:
        report = EvaluationReport(threshold=float(str(result.card["threshold"])))
        for key, row in metrics.items():
            report.rows[key] = BinaryMetrics(**row)
        print(report.table("validation"))
    return 0
