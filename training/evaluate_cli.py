"""``email2chat evaluate``: precision, recall and F1 at the threshold, AUROC and ECE, per source, on bare
validation queries and on synthetic emails built from wrappers the model never trained on."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from training.data import default_data_dir


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", type=Path, default=None, help=f"intent data (default: {default_data_dir()})"
    )
    parser.add_argument("--model", type=Path, default=None, help="artifact (.npz); default: the shipped one")
    parser.add_argument("--threshold", type=float, default=0.85)
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic email wrappers")
    parser.add_argument(
        "--reference",
        action="store_true",
        help="also evaluate TF-IDF + LR trained on bare queries (on normalised and on raw emails)",
    )
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    from email2chat.classifier.model import UrgencyModel

    from training.data import load_intent_data
    from training.evaluate import evaluate_scorer, raw_email_sets, reference_scorer, validation_sets

    try:
        data = load_intent_data(args.data)
    except FileNotFoundError as exc:
        print(f"email2chat evaluate: {exc}", file=sys.stderr)
        return 2
    sets = validation_sets(data, args.seed)
    model = UrgencyModel.load(args.model)
    reports = {"urgency model": evaluate_scorer(model.score_many, sets, args.threshold)}
    if args.reference:
        # Same normalised texts as ours (the reference gets our normaliser for free), plus the raw emails.
        reference_sets = {**sets, **raw_email_sets(data, args.seed)}
        reports["reference TF-IDF + LR"] = evaluate_scorer(
            reference_scorer(data.train), reference_sets, args.threshold
        )
    if args.json:
        print(
            json.dumps({name: r.as_card_metrics() for name, r in reports.items()}, indent=2, sort_keys=True)
        )
    else:
        print("\n\n".join(report.table(name) for name, report in reports.items()))
    return 0
