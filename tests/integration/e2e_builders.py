"""Scenario builders and a one-call pipeline run for the end-to-end tests (imported by name: the test
directory is on sys.path under pytest's default import mode).

Every run is the real thing: template.yaml and the ASL in moto's Step Functions interpreter, the handlers
dispatched in-process, the Genesys emulator over HTTP on 127.0.0.1, one scaled clock (0.01 real seconds
per simulated second, so the 5-minute wait lasts 3 s)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from simulator.runner.pipeline import LocalPipeline, RawRun, RunOptions
from simulator.runner.results import build_result
from simulator.runner.scenario import parse_lines

URGENT_TEXTS = [
    (
        "Card stolen",
        "Hi,\n\nMy wallet was stolen this morning with my debit card in it. Please block the card "
        "right away, I am worried someone will use it.\n\nThanks,\nAda",
    ),
    (
        "Payment I did not make",
        "Hello,\n\nThere is a card payment of 412.00 on my statement that I did not make. "
        "I don't recognise this merchant at all.\n\nRegards,\nGrace",
    ),
    (
        "Fraud on my account",
        "Hi,\n\nI want to report fraud. Someone has used my account to send money that I "
        "never authorised.\n\nAlan",
    ),
    (
        "Card compromised",
        "Hello,\n\nSomeone has used my card without my permission, there are purchases abroad I "
        "never made. Please block my card.\n\nBest regards,\nBarbara",
    ),
]
CALM_TEXT = (
    "Change of address",
    "Hi,\n\nI moved house last month. How do I update my postal address on my account?\n\nThanks,\nDonald",
)
ATTRIBUTES = {
    "Account_ID": "ACC-100042",
    "Product_Type": "Credit Card",
    "Customer_Tier": "Gold",
    "Language": "en",
    "Case_Number": "CS-20245",
    "Loyalty_Segment": "vip",  # not in the email schema: must be passed through, not lost
}


def email_line(email_id: str, *, urgent: bool = True, n: int = 0, **fields: Any) -> dict[str, Any]:
    """One scenario line. An "urgent" email reads urgent AND has waited 16 minutes in queue, so the wait
    trigger makes it urgent whatever the model scores: these tests prove the workflow, not the model
    (``tests/classifier`` does that)."""
    subject, body = URGENT_TEXTS[n % len(URGENT_TEXTS)] if urgent else CALM_TEXT
    line: dict[str, Any] = {
        "id": email_id,
        "conversation_id": f"conv-{email_id}",
        "subject": subject,
        "body": body,
        "customer": {"id": f"cust-{email_id}", "email": f"{email_id}@example.net", "name": "Test Customer"},
        "attributes": dict(ATTRIBUTES),
        "queue_wait_minutes": 16 if urgent else 1,
        "customer_action": "accept",
        "answer_after_s": 4,
        "agent_delay_s": 3,
    }
    line.update(fields)
    return line


RunPipeline = Callable[..., tuple[dict[str, Any], RawRun]]


def run_pipeline(lines: list[dict[str, Any]], **options: Any) -> tuple[dict[str, Any], RawRun]:
    """Run the lines through the whole local pipeline; returns (the --json result, the raw run)."""
    scenario = parse_lines([json.dumps(line) for line in lines], name="test-scenario")
    options.setdefault("time_scale", 0.01)
    options.setdefault("timeout_s", 90.0)
    with LocalPipeline(RunOptions(**options)) as pipeline:
        raw = pipeline.run(scenario)
    return build_result(raw), raw
