"""Helpers shared by the client tests (fixtures are in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from email2chat.clock import ManualClock
from email2chat.genesys.client import ClientCredentials

from simulator.emulator import GenesysEmulator

CREDENTIALS = ClientCredentials("local-client", "local-secret")
CONVERSATION_ID = "conv-0001"


class SleepRecorder:
    """Stands in for ``time.sleep``: records each wait and moves the manual clock instead of sleeping."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.waits: list[float] = []
        self.on_wait: Callable[[], None] | None = None  # what changes in the world while the client waits

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds)
        if self.on_wait is not None:
            self.on_wait()


def seed(emulator: GenesysEmulator, conversation_id: str = CONVERSATION_ID, **overrides: Any) -> str:
    options: dict[str, Any] = {
        "subject": "Charged twice, urgent",
        "text_body": "Please refund the second payment.",
        "html_body": "<p>Please refund the second payment.</p>",
        "customer_id": "customer-42",
        "customer_email": "jane@example.com",
        "customer_name": "Jane Doe",
        "attributes": {"Account_ID": "A-1", "Product_Type": "card"},
    }
    options.update(overrides)
    return emulator.seed_email_conversation(conversation_id, **options)


def api_requests(emulator: GenesysEmulator, endpoint: str) -> list[dict[str, Any]]:
    return [entry for entry in emulator.request_log() if entry["endpoint"] == endpoint]
