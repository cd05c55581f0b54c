"""Helpers for the emulator tests: raw HTTP calls (no email2chat client), seeding, event filters."""

from __future__ import annotations

from typing import Any

import requests

from simulator.emulator import GenesysEmulator

CONVERSATION_ID = "conv-0001"
BASIC = ("local-client", "local-secret")


def token(emulator: GenesysEmulator, auth: tuple[str, str] = BASIC) -> str:
    answer = requests.post(
        f"{emulator.base_url}/oauth/token", auth=auth, data={"grant_type": "client_credentials"}, timeout=5
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


class Api:
    """A bearer-authenticated raw HTTP caller."""

    def __init__(self, emulator: GenesysEmulator, access_token: str | None = None) -> None:
        self.base_url = emulator.base_url
        self.session = requests.Session()
        if access_token is None:
            access_token = token(emulator)
        self.session.headers["Authorization"] = f"Bearer {access_token}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.base_url + path, timeout=kwargs.pop("timeout", 5), **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.session.post(self.base_url + path, json=body, timeout=kwargs.pop("timeout", 5), **kwargs)

    def patch(self, path: str, body: Any) -> requests.Response:
        return self.session.patch(self.base_url + path, json=body, timeout=5)

    def initiate(
        self, conversation_id: str = CONVERSATION_ID, body_id: str | None = None
    ) -> requests.Response:
        body = {
            "conversationId": conversation_id if body_id is None else body_id,
            "externalConversationId": "crm-1",
            "channelType": "chat",
            "initiationMethod": "workflow",
            "agentId": None,
        }
        return self.post(f"/api/v2/conversations/emails/{conversation_id}/initiateChat", body)

    def push(self, session_id: str, conversation_id: str = CONVERSATION_ID) -> requests.Response:
        return self.post(
            "/api/v2/notifications/push",
            {
                "recipient": {"type": "customer", "id": "customer-42"},
                "message": {
                    "title": "We are ready to help you faster via Chat",
                    "body": "Tap here to start a chat with an agent now.",
                    "actionUrl": f"https://gcs.genesys.cloud/chat/session/{session_id}",
                },
                "conversationId": conversation_id,
            },
        )


def seed(emulator: GenesysEmulator, conversation_id: str = CONVERSATION_ID, **overrides: Any) -> str:
    options: dict[str, Any] = {
        "subject": "Charged twice, urgent",
        "text_body": "Please refund the second payment.",
        "customer_id": "customer-42",
        "customer_email": "jane@example.com",
        "customer_name": "Jane Doe",
        "attributes": {"Account_ID": "A-1"},
        "answer_after_s": 2.0,
        "agent_delay_s": 3.0,
    }
    options.update(overrides)
    return emulator.seed_email_conversation(conversation_id, **options)


def topics(events: list[dict[str, Any]]) -> list[str]:
    """``customer.start``-style suffixes of the events, in order."""
    return [
        e["detail"]["topicName"].rsplit(".", 2)[-2] + "." + e["detail"]["topicName"].rsplit(".", 1)[-1]
        for e in events
    ]
