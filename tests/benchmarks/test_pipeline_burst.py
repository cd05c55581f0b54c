"""Pipeline benchmarks (``make bench``; skipped in the normal test run).

1. A burst of 100 urgent emails at once under the emulator's 300 requests/minute limit: every email must
   connect (none lost); we report the share of 429s and the simulated duration against the limit's
   theoretical minimum (the Genesys requests the run needed, at 300 per minute).
2. The built-in default scenario's wall time (the README promises under 60 s on 2 cores).

``BENCH_TIME_SCALE`` (default 0.25 real s per simulated s) sets the burst's clock: at 0.01 every 10 ms of
local Python would count as a simulated second and swamp the limit being measured.
Numbers land in ``out/bench_pipeline.json`` as well as on stdout.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

from simulator.runner.pipeline import REPO_ROOT, LocalPipeline, RunOptions
from simulator.runner.results import build_result
from simulator.runner.scenario import load_scenario, parse_lines

pytestmark = pytest.mark.benchmark

BURST = 100
LIMIT_PER_MINUTE = 300
OUT = REPO_ROOT / "out" / "bench_pipeline.json"
URGENT = [
    ("Card stolen", "My wallet was stolen this morning with my debit card in it. Please block the card now."),
    ("Payment I did not make", "There is a card payment on my statement that I did not make."),
    (
        "Fraud on my account",
        "I want to report fraud. Someone sent money from my account that I never authorised.",
    ),
    ("Charged twice", "I was charged twice for the same transaction yesterday, please refund the duplicate."),
]


def _save(key: str, numbers: dict[str, Any]) -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    saved = json.loads(OUT.read_text()) if OUT.exists() else {}
    saved[key] = numbers
    OUT.write_text(json.dumps(saved, indent=2) + "\n")
    print(json.dumps({key: numbers}, indent=2))


def _burst_lines() -> list[str]:
    lines = []
    for i in range(BURST):
        subject, body = URGENT[i % len(URGENT)]
        lines.append(
            json.dumps(
                {
                    "id": f"burst-{i:03d}",
                    "conversation_id": f"conv-burst-{i:03d}",
                    "subject": subject,
                    "body": f"Hello,\n\n{body}\n\nThanks,\nCustomer {i}",
                    "customer": {"id": f"cust-burst-{i:03d}", "email": f"burst{i:03d}@example.net"},
                    "attributes": {"Account_ID": f"ACC-{i:06d}", "Product_Type": "Credit Card"},
                    # urgent by the wait trigger too: this measures the pipeline's pacing, not the model
                    "queue_wait_minutes": 16,
                    "customer_action": "accept",
                    "answer_after_s": 3,
                    "agent_delay_s": 3,
                }
            )
        )
    return lines


def test_burst_of_100_urgent_emails_under_the_rate_limit(benchmark: Any) -> None:
    time_scale = float(os.environ.get("BENCH_TIME_SCALE", "0.25"))
    scenario = parse_lines(_burst_lines(), name="burst-100")
    outcome: dict[str, Any] = {}

    def run() -> None:
        options = RunOptions(time_scale=time_scale, rate_limit_per_minute=LIMIT_PER_MINUTE, timeout_s=1800)
        with LocalPipeline(options) as pipeline:
            outcome["result"] = build_result(pipeline.run(scenario))

    benchmark.pedantic(run, rounds=1, iterations=1)
    result = outcome["result"]
    genesys = result["genesys"]
    simulated = result["simulated_s"]
    # the limit's floor: the requests this run needed (a 429 is a wasted request), at 300 per minute
    needed = genesys["requests"] - genesys["rate_limited"]
    floor_s = needed / (LIMIT_PER_MINUTE / 60.0)
    numbers = {
        "emails": BURST,
        "connected": result["totals"].get("connected", 0),
        "lost": BURST - sum(result["totals"].values()) + len(result["missing"]),
        "genesys_requests": genesys["requests"],
        "rate_limited_429": genesys["rate_limited"],
        "share_429": round(genesys["rate_limited"] / max(1, genesys["requests"]), 4),
        "simulated_s": simulated,
        "theoretical_minimum_s": round(floor_s, 1),
        "ratio_to_minimum": round(simulated / floor_s, 2) if floor_s else None,
        "wall_s": result["elapsed_s"],
        "time_scale": time_scale,
        "p50_time_to_connect_s": result["latency"]["time_to_connect_s"]["p50"],
        "p95_time_to_connect_s": result["latency"]["time_to_connect_s"]["p95"],
    }
    _save("burst_100_under_300_per_minute", numbers)
    assert numbers["connected"] == BURST
    assert result["missing"] == []
    assert all(e["chat_legs"] == 1 for e in result["emails"])


def test_default_scenario_wall_time(benchmark: Any) -> None:
    scenario = load_scenario()
    outcome: dict[str, Any] = {}

    def run() -> None:
        started = time.monotonic()
        with LocalPipeline(RunOptions()) as pipeline:
            outcome["setup_s"] = time.monotonic() - started
            outcome["result"] = build_result(pipeline.run(scenario))
        outcome["total_s"] = time.monotonic() - started

    benchmark.pedantic(run, rounds=1, iterations=1)
    result = outcome["result"]
    numbers = {
        "emails": len(scenario),
        "totals": result["totals"],
        "run_s": result["elapsed_s"],
        "with_setup_s": round(outcome["total_s"], 2),
        "setup_s": round(outcome["setup_s"], 2),
        "cpus": os.cpu_count(),
    }
    _save("default_scenario", numbers)
    assert result["missing"] == []
    assert outcome["total_s"] < 60
