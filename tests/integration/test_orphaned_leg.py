"""A chat leg the workflow opened never outlives it: through the real ASL, a 201 followed by an attribute
patch Genesys refuses for good (400) ends ``deferred`` exactly once, with the leg closed and the lock
released (guide, section 4: orphaned sessions)."""

from __future__ import annotations

import json

import pytest
from e2e_builders import email_line

from simulator.runner.pipeline import LocalPipeline, RunOptions
from simulator.runner.results import build_result
from simulator.runner.scenario import parse_lines

pytestmark = pytest.mark.integration


def test_a_refused_attribute_patch_after_the_201_closes_the_leg() -> None:
    scenario = parse_lines([json.dumps(email_line("patch-refused"))], name="orphan")
    with LocalPipeline(RunOptions(time_scale=0.01, timeout_s=60.0)) as pipeline:
        assert pipeline.emulator is not None
        assert pipeline.runtime is not None
        pipeline.emulator.set_fault("patch_attributes", error_rate=1.0, error_status=400)
        raw = pipeline.run(scenario)
        legs = pipeline.emulator.chat_legs("conv-patch-refused")
        lock_holder = pipeline.runtime.lock.holder("conv-patch-refused")

    result = build_result(raw)
    (email,) = result["emails"]
    assert email["outcome"] == "deferred"
    assert email["reason"].startswith("initiateChat failed with a non-retryable error (BadRequest)")
    assert email["notifications"] == 0
    assert [leg["state"] for leg in legs] == ["disconnected"]
    assert lock_holder is None
    assert [e["status"] for e in result["executions"]] == ["SUCCEEDED"]
