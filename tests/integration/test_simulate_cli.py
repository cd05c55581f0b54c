"""``email2chat simulate`` end to end: a burst of urgent emails and malformed input, checked in the
``--json`` file, and the ``--report`` page opened in headless Chromium."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from e2e_builders import email_line

from simulator.cli import main

pytestmark = pytest.mark.integration

EMAIL_KEYS = {
    "id",
    "outcome",
    "reason",
    "chat_legs",
    "notifications",
    "fallback_emails",
    "chat_attributes",
    "timeline",
}
MALFORMED = [
    {"id": "not-json", "raw_message": "this is not json {"},
    {"id": "not-an-email", "raw_message": json.dumps({"hello": "world"})},
    {
        "id": "chat-not-email",
        "raw_message": json.dumps(
            {
                "detail-type": "v2.detail.events.conversation.{id}.customer.start",
                "detail": {"eventBody": {"conversationId": "c-x", "mediaType": "CHAT"}},
            }
        ),
    },
]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], Path]:
    folder = tmp_path_factory.mktemp("simulate")
    burst = [email_line(f"burst-{i:02d}", n=i, answer_after_s=3) for i in range(20)]
    scenario = folder / "burst.jsonl"
    scenario.write_text("".join(json.dumps(line) + "\n" for line in [*burst, *MALFORMED]))
    out, report = folder / "result.json", folder / "report.html"
    code = main(
        ["simulate", "--scenario", str(scenario), "--json", str(out), "--report", str(report), "--quiet"]
    )
    return code, json.loads(out.read_text()), report


def test_the_json_holds_what_the_issue_lists(run: tuple[int, dict[str, Any], Path]) -> None:
    code, result, _ = run
    assert code == 0
    assert {"emails", "totals", "genesys", "elapsed_s"} <= set(result)
    assert {"requests", "rate_limited", "errors"} <= set(result["genesys"])
    assert len(result["emails"]) == 23
    for email in result["emails"]:
        assert set(email) >= EMAIL_KEYS, email["id"]
    assert result["elapsed_s"] > 0


def test_a_burst_under_the_limit_connects_every_email_and_loses_none(
    run: tuple[int, dict[str, Any], Path],
) -> None:
    _, result, _ = run
    assert result["missing"] == []
    burst = [e for e in result["emails"] if e["id"].startswith("burst-")]
    assert [e["outcome"] for e in burst] == ["connected"] * 20
    assert all(e["chat_legs"] == 1 and e["notifications"] == 1 for e in burst)
    assert all(e["chat_attributes"] for e in burst)
    assert result["totals"] == {"connected": 20, "invalid": 3}
    share_429 = result["genesys"]["rate_limited"] / result["genesys"]["requests"]
    assert 0 <= share_429 < 0.5


def test_malformed_input_is_invalid_with_a_reason_from_the_dlq(run: tuple[int, dict[str, Any], Path]) -> None:
    _, result, _ = run
    by_id = {e["id"]: e for e in result["emails"]}
    for item in MALFORMED:
        email = by_id[item["id"]]
        assert email["outcome"] == "invalid", email
        assert email["reason"], email
        assert "not found in the dead-letter queue" not in email["reason"], email
        assert email["dead_letter_copies"] == 1, email  # handled once: never processed twice
    assert "CHAT" in by_id["chat-not-email"]["reason"]
    assert len(result["dead_letters"]) == 3, result["dead_letters"]


@pytest.mark.browser
def test_the_report_renders_in_headless_chromium(
    run: tuple[int, dict[str, Any], Path], dump_dom: Callable[..., str]
) -> None:
    _, result, report = run
    page = report.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # self-contained
    dom = dump_dom(report)
    assert f'data-rendered="{len(result["emails"])}"' in dom
    assert '<div id="js-errors"></div>' in dom
    assert 'data-state="Initiate" data-count="20"' in dom or 'data-state="Initiate"' in dom


def test_the_command_prints_the_report_not_the_handlers_log_lines(tmp_path: Path) -> None:
    # A fresh interpreter: the library's logger is created during the run, as on a laptop.
    scenario = tmp_path / "one.jsonl"
    scenario.write_text(json.dumps(email_line("quiet", n=0)) + "\n" + json.dumps(MALFORMED[0]) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "simulate", "--scenario", str(scenario), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert "Outcomes" in done.stdout
    assert '"level"' not in done.stdout + done.stderr  # no Powertools JSON line
