"""The thin Lambda handlers, the composition root and observability."""

from __future__ import annotations

import importlib.util
import io
import json
import logging
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from email2chat import observability
from email2chat.runtime import Runtime, get_runtime, set_runtime
from moto import mock_aws

from .conftest import World

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
STEP_HANDLERS = sorted(p.name for p in FUNCTIONS.iterdir() if (p / "app.py").exists())


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"handler_{name}", FUNCTIONS / name / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_function_exposes_a_thin_handler() -> None:
    assert set(STEP_HANDLERS) == {
        "intake",
        "collision_check",
        "initiate",
        "notify",
        "await_answer",
        "check_status",
        "fallback",
        "cleanup",
        "defer",
        "execution_ended",
        "late_email",
        "record_outcome",
        "status_events",
    }
    for name in STEP_HANDLERS:
        source = (FUNCTIONS / name / "app.py").read_text()
        assert callable(_load(name).handler)
        assert "(event, get_runtime())" in source, name
        assert len([line for line in source.splitlines() if line.strip()]) <= 12, f"{name} is not thin"


def test_the_intake_handler_reports_partial_failures(world: World) -> None:
    world.seed("conv-h1")
    event = {
        "Records": [
            world.sqs_record(world.direct_message("email-h1", "conv-h1"), message_id="ok"),
            world.sqs_record("{broken", message_id="bad"),
        ]
    }

    assert _load("intake").handler(event, None) == {"batchItemFailures": []}
    assert [e["name"] for e in world.executions()] == ["email-h1-1"]
    assert len(world.drain(world.dlq_url)) == 1


def test_step_handlers_run_a_whole_path_through_the_injected_runtime(world: World) -> None:
    world.seed("conv-h2", customer_action="decline", answer_after_s=1)
    _load("intake").handler(
        {"Records": [world.sqs_record(world.direct_message("email-h2", "conv-h2"))]}, None
    )
    state: dict[str, Any] = world.execution_input("email-h2-1")

    state["collision"] = _load("collision_check").handler(state, None)
    state["initiate"] = _load("initiate").handler(state, None)
    state["notify"] = _load("notify").handler(state, None)
    world.clock.advance(1)
    state["check"] = _load("check_status").handler(state, None)
    state["final"] = _load("fallback").handler(state, None)
    recorded = _load("record_outcome").handler(state, None)

    assert state["check"]["status"] == "declined"
    assert recorded == {"outcome": "declined_fallback", "final": True}
    assert len(world.emulator.emails_sent("conv-h2")) == 1


def test_get_runtime_builds_once_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "STATE_TABLE_NAME": "t",
        "GENESYS_CLIENT_ID": "id",
        "GENESYS_CLIENT_SECRET": "secret",
        "GENESYS_BASE_URL": "http://127.0.0.1:9",
        "TIME_SCALE": "0.5",
    }.items():
        monkeypatch.setenv(name, value)
    set_runtime(None)
    with mock_aws():
        try:
            first = get_runtime()
            assert isinstance(first, Runtime)
            assert get_runtime() is first
            assert first.settings.time_scale == 0.5
            assert first.settings.state_table_name == "t"
        finally:
            set_runtime(None)


def test_emf_metrics_carry_their_own_dimensions(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[observability.MetricEvent] = []
    remove = observability.add_listener(seen.append)
    observability.set_emf_output(True)
    try:
        observability.emit(observability.OUTCOME, 1, "Count", outcome="connected")
    finally:
        observability.set_emf_output(False)
        remove()
    line = next(line for line in capsys.readouterr().out.splitlines() if '"_aws"' in line)
    emf = json.loads(line)
    directive = emf["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "email2chat"
    assert {"service", "outcome"} <= set(directive["Dimensions"][0])
    assert emf["outcome"] == "connected"
    assert emf["Outcome"] == [1.0] or emf["Outcome"] == 1.0
    assert seen == [observability.MetricEvent("Outcome", 1.0, "Count", {"outcome": "connected"})]


def test_a_failing_listener_never_breaks_a_step() -> None:
    def broken(_: observability.MetricEvent) -> None:
        raise RuntimeError("listener bug")

    remove = observability.add_listener(broken)
    try:
        observability.emit(observability.DEFERRAL, 1)
    finally:
        remove()


def test_logs_carry_correlation_ids_but_no_body_or_address(world: World) -> None:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(observability.logger.registered_formatter)
    observability.logger.addHandler(handler)
    # Another test may have run the simulate CLI in-process, which quietens the library's loggers.
    previous_level = observability.logger.log_level
    observability.logger.setLevel(logging.INFO)
    world.seed("conv-h3")
    message = world.direct_message("email-h3", "conv-h3")
    _load("intake").handler({"Records": [world.sqs_record(message)]}, None)
    state = world.execution_input("email-h3-1")
    _load("collision_check").handler(state, None)

    observability.logger.removeHandler(handler)
    observability.logger.setLevel(previous_level)
    out = buffer.getvalue()
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert any(line.get("email_id") == "email-h3" and line.get("execution") == "email-h3-1" for line in lines)
    assert "blocked" not in out
    assert "conv-h3@customer.example" not in out


def _log_lines(run: Any) -> list[dict[str, Any]]:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(observability.logger.registered_formatter)
    observability.logger.addHandler(handler)
    previous_level = observability.logger.log_level
    observability.logger.setLevel(logging.INFO)
    try:
        run()
    finally:
        observability.logger.removeHandler(handler)
        observability.logger.setLevel(previous_level)
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]


def test_no_log_line_carries_another_emails_correlation_keys(world: World) -> None:
    # Powertools keeps appended keys per thread, and Lambda (like the local runner) reuses the thread.
    world.seed("conv-h5")
    observability.correlate(email_id="email-from-a-previous-invocation", conversation_id="conv-old")
    event = {
        "Records": [
            world.sqs_record(world.direct_message("email-h5", "conv-h5"), message_id="ok"),
            world.sqs_record("{broken", message_id="bad"),
        ]
    }

    lines = _log_lines(lambda: _load("intake").handler(event, None))

    rejected = [line for line in lines if line["message"] == "intake message rejected to the DLQ"]
    assert len(rejected) == 1
    assert "email_id" not in rejected[0]  # neither the previous invocation's nor the batch's first email
    assert "conversation_id" not in rejected[0]
    assert not [line for line in lines if line.get("email_id") == "email-from-a-previous-invocation"]


def test_every_handler_invocation_starts_without_correlation_keys() -> None:
    observability.correlate(email_id="email-from-a-previous-invocation", execution="old-1")

    @observability.new_invocation
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return dict(observability.logger.thread_safe_get_current_keys())

    assert handler({}, None) == {}
    for name in STEP_HANDLERS:
        assert "@observability.new_invocation" in (FUNCTIONS / name / "app.py").read_text(), name


def test_boto3_is_imported_by_the_runtime_not_by_handlers() -> None:
    for name in STEP_HANDLERS:
        assert "boto3" not in (FUNCTIONS / name / "app.py").read_text()
    assert boto3 is not None
