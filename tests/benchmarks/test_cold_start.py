"""Cold start of each Lambda handler: import time, and import + composition root, in a fresh interpreter.

Run with ``make bench`` (or ``pytest -m benchmark --benchmark-enable --benchmark-only <this file> -s``).
The numbers are what a Lambda init phase pays on top of the runtime's own start (measured on this machine,
not in Lambda; Lambda's CPU share at 512 MB is lower, so expect them to scale up).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "app.py").exists())

# Loads the handler module by path (as Lambda does with CodeUri + Handler), then builds the runtime the
# way the first invocation does. Local credentials and a dead Genesys URL: nothing goes on the network.
_PROBE = """
import importlib.util, json, sys, time
t0 = time.perf_counter()
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
t1 = time.perf_counter()
from email2chat.runtime import get_runtime
runtime = get_runtime()
t2 = time.perf_counter()
if sys.argv[2] == "intake":
    try:
        runtime.classifier.decide("Card blocked", "urgent, please help")
    except ImportError:
        pass
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "runtime_s": t2 - t1, "first_classify_s": t3 - t2}))
"""

_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "STATE_TABLE_NAME": "email2chat-state",
    "GENESYS_CLIENT_ID": "local-client",
    "GENESYS_CLIENT_SECRET": "local-secret",
    "GENESYS_BASE_URL": "http://127.0.0.1:9",
    "EMAIL2CHAT_EMF_STDOUT": "0",
}


def measure(name: str, rounds: int = 3) -> dict[str, float]:
    """The best of ``rounds`` fresh interpreters (the least disturbed by other work on the machine)."""
    env = {**os.environ, **_ENV}
    best: dict[str, float] = {}
    for _ in range(rounds):
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, str(ROOT / "functions" / name / "app.py"), name],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=120,
        )
        sample = json.loads(done.stdout.strip().splitlines()[-1])
        best = {k: min(v, best.get(k, v)) for k, v in sample.items()}
    return best


@pytest.mark.benchmark
@pytest.mark.parametrize("name", FUNCTIONS)
def test_handler_cold_start(name: str, benchmark: Any) -> None:
    # The benchmark times a whole fresh interpreter per round; the split comes from inside it.
    timings = benchmark.pedantic(measure, args=(name,), kwargs={"rounds": 1}, rounds=3, iterations=1)
    benchmark.extra_info.update(timings)
    print(
        f"\n{name:<16} import {timings['import_s'] * 1000:6.0f} ms"
        f"  + runtime {timings['runtime_s'] * 1000:5.0f} ms"
        f"  + first classify {timings['first_classify_s'] * 1000:5.0f} ms"
    )
    # A budget, not a target: Tracer (~0.45 s) or the idempotency utility (~0.35 s) alone would break it.
    assert timings["import_s"] < 1.5
