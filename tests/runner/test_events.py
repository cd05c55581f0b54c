"""Every function runs in-process with its sample event from ``events/``, against moto and the emulator:
what ``sam local invoke -e events/<name>.json`` does, without Docker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from simulator.local_aws import LambdaInvokeError
from simulator.runner.pipeline import REPO_ROOT, LocalPipeline, RunOptions
from simulator.runner.sample_events import DEMO_CONVERSATION_ID, DEMO_EMAIL

EVENTS = REPO_ROOT / "events"
# the order a real upgrade calls them in, so each finds the state the previous one left
ORDER = [
    "intake",
    "collision_check",
    "initiate",
    "notify",
    "await_answer",
    "status_events",
    "check_status",
    "fallback",
    "cleanup",
    "late_email",
    "defer",
    "record_outcome",
    "execution_ended",
]


def _event(name: str) -> Any:
    return json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))


def test_there_is_one_event_per_function() -> None:
    functions = sorted(p.name for p in (REPO_ROOT / "functions").iterdir() if (p / "app.py").exists())
    assert sorted(p.stem for p in EVENTS.glob("*.json")) == functions
    for name in ("intake-message-genesys-event", "intake-message-direct", "state-machine-input"):
        assert (EVENTS / "pipeline" / f"{name}.json").exists()


def test_every_handler_runs_with_its_event(tmp_path: Path) -> None:
    with LocalPipeline(RunOptions(time_scale=0.01)) as pipeline:
        stack, emulator, runtime = pipeline.stack, pipeline.emulator, pipeline.runtime
        assert stack is not None
        assert emulator is not None
        assert runtime is not None
        emulator.seed_email_conversation(
            DEMO_CONVERSATION_ID,
            subject=DEMO_EMAIL["subject"],
            text_body=DEMO_EMAIL["body"],
            customer_id=DEMO_EMAIL["customer"]["id"],
            customer_email=DEMO_EMAIL["customer"]["email"],
            customer_name=DEMO_EMAIL["customer"]["name"],
            attributes=DEMO_EMAIL["attributes"],
            queue_wait_s=120,
        )
        by_code = {
            spec.code_uri.rstrip("/").split("/")[-1]: spec.logical_id
            for spec in stack.template.functions.values()
        }
        answers: dict[str, Any] = {}
        # the events name the chat leg of the capture run; this replay's initiate makes its own leg
        recorded_leg = _event("notify")["initiate"]
        replace: dict[str, str] = {}
        for name in ORDER:
            text = (EVENTS / f"{name}.json").read_text(encoding="utf-8")
            for old, new in replace.items():
                text = text.replace(old, new)
            try:
                answers[name] = stack.invoke(by_code[name], json.loads(text))
            except LambdaInvokeError as exc:  # pragma: no cover - the message is the point
                pytest.fail(f"{name} with events/{name}.json raised {exc}")
            if name == "initiate":
                replace = {recorded_leg[k]: answers[name][k] for k in ("participant_id", "session_id")}
        assert answers["intake"] == {"batchItemFailures": []}
        assert answers["initiate"]["status"] in {"initiated", "throttled"}
        assert len(emulator.chat_legs(DEMO_CONVERSATION_ID)) >= 1
        assert emulator.notifications(DEMO_CONVERSATION_ID)
        record = runtime.outcomes.get(_event("record_outcome")["case"]["email_id"])
        assert record is not None
