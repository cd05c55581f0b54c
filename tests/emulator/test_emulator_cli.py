"""``email2chat emulator`` by hand: it prints its URL, answers a token request and a conversation read."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys

import pytest

from simulator.emulator.cli import DEMO_CONVERSATION_ID


def fetch(args: list[str]) -> str:
    """curl, as a person would type it."""
    if shutil.which("curl"):
        return subprocess.run(
            ["curl", "-s", "--max-time", "5", *args], check=True, capture_output=True, text=True
        ).stdout
    pytest.skip("curl is not installed")


def test_the_emulator_command_serves_a_token_and_the_demo_conversation() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "emulator", "--port", "0", "--rate-limit-per-minute", "50"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(4)]  # URL, environment, demo id, curl hint
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", banner[0])
        assert match, banner
        base_url = match.group(1)

        token = json.loads(
            fetch(
                [
                    "-u",
                    "local-client:local-secret",
                    "-d",
                    "grant_type=client_credentials",
                    f"{base_url}/oauth/token",
                ]
            )
        )
        headers = fetch(
            [
                "-D",
                "-",
                "-o",
                "/dev/null",
                "-H",
                f"Authorization: Bearer {token['access_token']}",
                f"{base_url}/api/v2/conversations/{DEMO_CONVERSATION_ID}",
            ]
        )
        conversation = json.loads(
            fetch(
                [
                    "-H",
                    f"Authorization: Bearer {token['access_token']}",
                    f"{base_url}/api/v2/conversations/{DEMO_CONVERSATION_ID}",
                ]
            )
        )
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=10)

    assert token["token_type"] == "bearer"
    assert "inin-ratelimit-allowed: 50" in headers.lower()
    assert conversation["id"] == DEMO_CONVERSATION_ID
    assert [p["purpose"] for p in conversation["participants"]] == ["customer", "acd"]
    assert DEMO_CONVERSATION_ID in banner[2]
    assert "emulator stopped" in output
    assert process.returncode == 0
