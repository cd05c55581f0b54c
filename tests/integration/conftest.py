"""Fixtures of the end-to-end tests (builders live in ``e2e_builders``)."""

from __future__ import annotations

import pytest
from e2e_builders import RunPipeline, run_pipeline


@pytest.fixture(scope="session")
def pipeline_runner() -> RunPipeline:
    return run_pipeline
