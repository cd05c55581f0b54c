"""``email2chat score``: JSON lines in (``{"id", "subject"?, "body"?, "html"?, "queue_wait_minutes"?}``), one
JSON line out per input line, in order: ``{"id", "score", "urgent", "threshold", "by_score",
"wait_trigger_fired", "drivers"}``. A line that is not valid UTF-8 or JSON, lacks an ``id`` or has a
``queue_wait_minutes`` that is not a finite count of minutes (0 or more) gets ``{"id", "error"}`` and the run
goes on (exit status 0; the number of bad lines is reported on stderr). A byte-order mark opening the input
is skipped.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import IO

from email2chat.classifier import UrgencyClassifier
from email2chat.classifier.decision import DEFAULT_THRESHOLD, DEFAULT_WAIT_TRIGGER_MINUTES

UTF8_BOM = b"\xef\xbb\xbf"


class BadLine(ValueError):
    """An input line that cannot be scored; the message says why (never echoes the body)."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, help="urgent when score > this")
    parser.add_argument(
        "--wait-trigger-minutes",
        type=float,
        default=DEFAULT_WAIT_TRIGGER_MINUTES,
        help="urgent when queue_wait_minutes > this",
    )
    parser.add_argument("--model", type=Path, default=None, help="artifact (.npz); default: the shipped one")


def _optional_text(record: dict[str, object], key: str) -> str:
    value = record.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadLine(f"{key!r} must be a string")
    return value


def _wait_minutes(record: dict[str, object]) -> float:
    value = record.get("queue_wait_minutes", 0.0)
    try:
        minutes = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan
    except OverflowError:  # a 400-digit integer
        minutes = math.inf
    if not math.isfinite(minutes) or minutes < 0:
        raise BadLine("'queue_wait_minutes' must be a finite number of minutes, 0 or more")
    return minutes


def _parse(raw: bytes) -> tuple[object, dict[str, object]]:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadLine(f"line is not valid UTF-8 (byte {exc.start})") from None
    if not line.strip():
        raise BadLine("empty line")
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadLine(f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(record, dict):
        raise BadLine("a line must be a JSON object")
    if "id" not in record:
        raise BadLine("missing 'id'")
    return record["id"], record


def score_line(
    classifier: UrgencyClassifier, raw: bytes, threshold: float, trigger: float
) -> dict[str, object]:
    record_id: object = None
    try:
        record_id, record = _parse(raw)
        decision = classifier.decide(
            _optional_text(record, "subject"),
            _optional_text(record, "body"),
            _optional_text(record, "html"),
            queue_wait_minutes=_wait_minutes(record),
            threshold=threshold,
            wait_trigger_minutes=trigger,
        )
    except (BadLine, ValueError) as exc:
        return {"id": record_id, "error": str(exc)}
    return {
        "id": record_id,
        "score": round(decision.score, 6),
        "urgent": decision.urgent,
        "threshold": decision.threshold,
        "by_score": decision.by_score,
        "wait_trigger_fired": decision.wait_trigger_fired,
        "drivers": list(decision.drivers),
    }


def score_stream(
    classifier: UrgencyClassifier, source: IO[bytes], sink: IO[str], threshold: float, trigger: float
) -> int:
    errors = 0
    for number, raw in enumerate(source):
        line = raw.rstrip(b"\r\n")
        if number == 0:
            line = line.removeprefix(UTF8_BOM)  # files saved by Windows tools open with one
        result = score_line(classifier, line, threshold, trigger)
        errors += "error" in result
        sink.write(json.dumps(result) + "\n")  # ASCII escapes: a lone surrogate cannot break stdout
    sink.flush()
    return errors


def run(args: argparse.Namespace) -> int:
    if not 0.0 <= args.threshold <= 1.0:
        print("email2chat score: --threshold must be within [0, 1]", file=sys.stderr)
        return 2
    classifier = UrgencyClassifier.load(args.model)
    errors = score_stream(classifier, sys.stdin.buffer, sys.stdout, args.threshold, args.wait_trigger_minutes)
    if errors:
        print(
            f"email2chat score: {errors} line(s) could not be scored (see their 'error' field)",
            file=sys.stderr,
        )
    return 0
