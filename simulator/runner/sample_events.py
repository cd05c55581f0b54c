"""Regenerate ``events/``: one sample event per function, captured from real local runs.

``python -m simulator.runner.sample_events [events]`` runs the emulator's demo conversation through the
pipeline five times (accepted, declined, ignored, during an initiateChat outage, declined during an
email outage), records the event every function
received (the in-process Lambda seam keeps them), and writes the first one per function as
``events/<function dir>.json``. The events name the emulator's demo conversation
(``email2chat emulator`` seeds it), so ``sam local invoke -e events/<name>.json`` works against it.
Whole-pipeline inputs go to ``events/pipeline/``.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from simulator.runner.pipeline import LocalPipeline, Outage, RunOptions
from simulator.runner.scenario import parse_lines

DEMO_CONVERSATION_ID = "00000000-0000-4000-8000-000000000001"  # as seeded by `email2chat emulator --demo`
DEMO_EMAIL = {
    "id": "demo-email",
    "conversation_id": DEMO_CONVERSATION_ID,
    "subject": "My card was charged twice, please help urgently",
    "body": "Hello, I was charged twice for order 1234. Please refund one of the payments today.",
    "customer": {"id": "demo-customer", "email": "demo.customer@example.com", "name": "Demo Customer"},
    "attributes": {"Account_ID": "A-1001", "Product_Type": "card"},
    "queue_wait_minutes": 2,
}
RUNS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"customer_action": "accept", "answer_after_s": 3}, {}),
    ({"customer_action": "decline", "answer_after_s": 3}, {}),
    ({"customer_action": "ignore"}, {}),
    ({"customer_action": "accept", "answer_after_s": 3}, {"outage_seconds": 3600, "timeout_s": 20.0}),
    # the fallback email outlasts Fallback's retries: QueueLateEmail
    (
        {"customer_action": "decline", "answer_after_s": 3},
        {"outages": (Outage("agentless_email", 0, 2400),), "timeout_s": 60.0},
    ),
]


def capture(time_scale: float = 0.01) -> dict[str, list[Any]]:
    """Function code dir -> the events it received, over the demo runs.

    The emulator's ids are deterministic (seeded), but each run creates its own chat leg: the leg ids of the
    later runs are rewritten to the first run's, so replaying the events in order on a freshly seeded demo
    conversation (``tests/runner/test_events.py``, or by hand with ``sam local invoke``) finds that leg."""
    captured: dict[str, list[Any]] = {}
    first_leg: dict[str, str] = {}
    machine_arn = ""
    for behaviour, options in RUNS:
        line = json.dumps({**DEMO_EMAIL, **behaviour})
        scenario = parse_lines([line], name="demo")
        with LocalPipeline(RunOptions(time_scale=time_scale, **options)) as pipeline:
            assert pipeline.stack is not None
            pipeline.stack.lambdas.record_payloads = True
            pipeline.run(scenario)
            machine_arn = pipeline.stack.state_machine_arn
            functions = pipeline.stack.template.functions
            run_events = {
                functions[f].code_uri.rstrip("/").split("/")[-1]: events
                for f, events in pipeline.stack.lambdas.payloads.items()
            }
        leg = _leg_ids(run_events)
        if not first_leg:
            first_leg = leg
        text = json.dumps(run_events)
        for key, value in leg.items():
            if key in first_leg and value != first_leg[key]:
                text = text.replace(value, first_leg[key])
        for code_dir, events in json.loads(text).items():
            captured.setdefault(code_dir, []).extend(events)
    first_input = {"case": captured["collision_check"][0]["case"]}
    captured["execution_ended"] = [stopped_execution_event(machine_arn, first_input)]
    return captured


def stopped_execution_event(machine_arn: str, execution_input: dict[str, Any]) -> dict[str, Any]:
    """What EventBridge delivers when an execution is stopped from the console (moto sends no such events:
    this one is built from a captured execution input)."""
    name = execution_input["case"]["execution"]
    return {
        "version": "0",
        "id": "7b4a5c1e-0000-4000-8000-000000000001",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"],
        "detail": {
            "executionArn": machine_arn.replace(":stateMachine:", ":execution:") + f":{name}",
            "stateMachineArn": machine_arn,
            "name": name,
            "status": "ABORTED",
            "startDate": 1767225590000,
            "stopDate": 1767225600000,
            "input": json.dumps(execution_input),
            "inputDetails": {"included": True},
            "output": None,
            "outputDetails": None,
            "error": None,
            "cause": None,
        },
    }


def _leg_ids(run_events: dict[str, list[Any]]) -> dict[str, str]:
    for events in run_events.values():
        for event in events:
            initiate = event.get("initiate") if isinstance(event, dict) else None
            if isinstance(initiate, dict) and initiate.get("participant_id"):
                return {k: str(initiate[k]) for k in ("participant_id", "session_id") if initiate.get(k)}
    return {}


def write_events(out_dir: Path, captured: dict[str, list[Any]]) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for code_dir, events in sorted(captured.items()):
        path = out_dir / f"{code_dir}.json"
        path.write_text(json.dumps(events[0], indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    pipeline_dir = out_dir / "pipeline"
    pipeline_dir.mkdir(exist_ok=True)
    intake = captured.get("intake") or []
    bodies = [record["body"] for event in intake for record in event.get("Records", [])]
    genesys_event = next((b for b in bodies if '"detail-type"' in b), None)
    if genesys_event is not None:
        path = pipeline_dir / "intake-message-genesys-event.json"
        path.write_text(json.dumps(json.loads(genesys_event), indent=2) + "\n", encoding="utf-8")
        written.append(path)
    direct = {
        "email_id": "demo-email",
        "conversation_id": DEMO_CONVERSATION_ID,
        "subject": DEMO_EMAIL["subject"],
        "body": DEMO_EMAIL["body"],
        "customer": DEMO_EMAIL["customer"],
        "attributes": DEMO_EMAIL["attributes"],
        "queue_wait_minutes": DEMO_EMAIL["queue_wait_minutes"],
    }
    path = pipeline_dir / "intake-message-direct.json"
    path.write_text(json.dumps(direct, indent=2) + "\n", encoding="utf-8")
    written.append(path)
    first_step = captured.get("collision_check") or []
    if first_step:
        path = pipeline_dir / "state-machine-input.json"
        path.write_text(json.dumps({"case": first_step[0]["case"]}, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    logging.getLogger("email2chat").setLevel(logging.WARNING)  # the runs' INFO lines are not the output
    out_dir = Path(args[0]) if args else Path("events")
    for path in write_events(out_dir, capture()):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
