"""``email2chat simulate``: the whole pipeline on this machine (moto + the Genesys emulator), reported."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.runner.pipeline import Outage

DEFAULT_TIME_SCALE = 0.01  # 1 simulated minute = 0.6 real seconds: the 5-minute wait lasts 3 s


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenario", type=Path, help="JSON lines, one email per line (default: built-in sample)"
    )
    parser.add_argument("--json", type=Path, dest="json_path", help="write the per-email results as JSON")
    parser.add_argument("--report", type=Path, help="write a self-contained HTML report")
    parser.add_argument("--rate-limit-per-minute", type=int, default=300, help="emulator limit (default 300)")
    parser.add_argument(
        "--error-rate", type=float, default=0.0, help="share of Genesys calls that fail (503)"
    )
    parser.add_argument(
        "--lost-answer-rate",
        type=float,
        default=0.0,
        help="share of Genesys calls that take effect and then answer a garbled 200 (the answer is lost: "
        "a retry must not act twice)",
    )
    parser.add_argument(
        "--outage-seconds",
        type=float,
        default=0.0,
        help="initiateChat fails for the first S simulated seconds",
    )
    parser.add_argument(
        "--outage",
        action="append",
        default=[],
        type=_outage,
        metavar="ENDPOINT:START-END",
        help="one Genesys endpoint answers 503 in this window of simulated seconds from the run's start "
        "(repeatable), e.g. get_conversation:200-900 (a wrong name lists the endpoints)",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=DEFAULT_TIME_SCALE,
        help=f"real seconds per simulated second (default {DEFAULT_TIME_SCALE})",
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="give up after this many real seconds")
    parser.add_argument("--template", type=Path, help="SAM template (default: ./template.yaml)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _outage(spec: str) -> Outage:
    from simulator.runner.pipeline import Outage  # the pipeline imports moto: only when asked for

    try:
        return Outage.parse(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # The library's Powertools logger sets its own level (INFO) when it is created: create it first, or the
    # handlers' JSON lines flood the terminal from their first import on.
    import email2chat.observability  # noqa: F401

    with _quiet_loggers("moto", "botocore", "urllib3", "email2chat", "aws_lambda_powertools"):
        return _simulate(args)


@contextmanager
def _quiet_loggers(*names: str) -> Iterator[None]:
    """Errors only while the run prints its progress; the levels come back after (tests run it in-process)."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _simulate(args: argparse.Namespace) -> int:
    # Imported here: moto, boto3 and the workflow cost a second to import, and only this command needs them.
    from simulator.runner.console import ProgressBar, summary_table
    from simulator.runner.pipeline import LocalPipeline, RunOptions
    from simulator.runner.report import render_report
    from simulator.runner.results import build_result
    from simulator.runner.scenario import ScenarioError, load_scenario

    if args.time_scale <= 0:
        print("email2chat simulate: --time-scale must be > 0", file=sys.stderr)
        return 2
    for flag, rate in (("--error-rate", args.error_rate), ("--lost-answer-rate", args.lost_answer_rate)):
        if not 0.0 <= rate <= 1.0:
            print(f"email2chat simulate: {flag} must be between 0 and 1, got {rate}", file=sys.stderr)
            return 2
    try:
        scenario = load_scenario(args.scenario)
    except (OSError, ScenarioError) as exc:
        print(f"email2chat simulate: {exc}", file=sys.stderr)
        return 2
    options = RunOptions(
        time_scale=args.time_scale,
        rate_limit_per_minute=args.rate_limit_per_minute,
        error_rate=args.error_rate,
        lost_answer_rate=args.lost_answer_rate,
        outage_seconds=args.outage_seconds,
        outages=tuple(args.outage),
        timeout_s=args.timeout,
        template=args.template,
    )
    print(
        f"email2chat simulate: {len(scenario)} emails from {scenario.name}, time scale {options.time_scale} "
        f"(real s per simulated s), Genesys limit {options.rate_limit_per_minute}/min",
        file=sys.stderr,
    )
    bar = None if args.quiet else ProgressBar(sys.stderr)
    with LocalPipeline(options) as pipeline:
        raw = pipeline.run(scenario, progress=bar)
    if bar is not None:
        bar.close()
    result = build_result(raw)
    print(summary_table(result))
    if args.json_path:
        args.json_path.parent.mkdir(parents=True, exist_ok=True)
        args.json_path.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        print(f"JSON:   {args.json_path}")
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(render_report(result, raw.definition), encoding="utf-8")
        print(f"Report: {args.report}")
    return 1 if result["missing"] else 0
