"""The emulator's HTTP surface with a plain requests session: login, 401s, headers, rate limit, faults."""

from __future__ import annotations

import re
import threading
import time

import pytest
import requests
from email2chat.clock import ManualClock
from emulator_harness import BASIC, CONVERSATION_ID, Api, seed, token

from simulator.emulator import GenesysEmulator

RATE_HEADERS = ("inin-ratelimit-allowed", "inin-ratelimit-count", "inin-ratelimit-reset")
GENESYS_ERROR_KEYS = {"message", "code", "status", "contextId", "details", "errors"}


def assert_genesys_error(answer: requests.Response, status: int, code: str) -> None:
    body = answer.json()
    assert answer.status_code == status
    assert set(body) == GENESYS_ERROR_KEYS
    assert (body["status"], body["code"]) == (status, code)
    assert body["contextId"] == answer.headers["ININ-Correlation-Id"]


def test_login_issues_a_bearer_token_for_basic_client_credentials(emulator: GenesysEmulator) -> None:
    answer = requests.post(
        f"{emulator.base_url}/oauth/token", auth=BASIC, data={"grant_type": "client_credentials"}, timeout=5
    )

    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86400
    assert len(body["access_token"]) > 20


@pytest.mark.parametrize(
    ("auth", "form", "status", "error"),
    [
        (("local-client", "wrong"), {"grant_type": "client_credentials"}, 401, "invalid_client"),
        (("someone-else", "local-secret"), {"grant_type": "client_credentials"}, 401, "invalid_client"),
        (None, {"grant_type": "client_credentials"}, 401, "invalid_client"),
        (BASIC, {"grant_type": "password"}, 400, "unsupported_grant_type"),
    ],
)
def test_login_errors_are_oauth_style(
    emulator: GenesysEmulator, auth: tuple[str, str] | None, form: dict[str, str], status: int, error: str
) -> None:
    answer = requests.post(f"{emulator.base_url}/oauth/token", auth=auth, data=form, timeout=5)

    assert answer.status_code == status
    assert answer.json()["error"] == error
    assert "description" in answer.json()


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic bG9jYWw6c2VjcmV0"])
def test_api_without_a_valid_token_answers_401(emulator: GenesysEmulator, authorization: str | None) -> None:
    seed(emulator)
    headers = {"Authorization": authorization} if authorization else {}

    answer = requests.get(
        f"{emulator.base_url}/api/v2/conversations/{CONVERSATION_ID}", headers=headers, timeout=5
    )

    assert_genesys_error(answer, 401, "authentication.required")


def test_tokens_expire_after_their_lifetime(clock: ManualClock) -> None:
    with GenesysEmulator(clock=clock, token_ttl_s=300) as emulator:
        seed(emulator)
        api = Api(emulator)
        assert api.get(f"/api/v2/conversations/{CONVERSATION_ID}").status_code == 200

        clock.advance(299)
        assert api.get(f"/api/v2/conversations/{CONVERSATION_ID}").status_code == 200
        clock.advance(1)
        assert_genesys_error(
            api.get(f"/api/v2/conversations/{CONVERSATION_ID}"), 401, "authentication.required"
        )


def test_every_answer_carries_correlation_and_rate_limit_headers(emulator: GenesysEmulator) -> None:
    seed(emulator)
    api = Api(emulator)
    answers = [
        requests.post(f"{emulator.base_url}/oauth/token", auth=BASIC, data={"grant_type": "x"}, timeout=5),
        api.get(f"/api/v2/conversations/{CONVERSATION_ID}"),
        api.get("/api/v2/conversations/unknown"),
        api.get("/api/v2/no/such/path"),
        api.initiate(body_id="mismatch"),
        requests.get(f"{emulator.base_url}/api/v2/conversations/{CONVERSATION_ID}", timeout=5),
    ]

    for answer in answers:
        assert re.fullmatch(r"[0-9a-f-]{36}", answer.headers["ININ-Correlation-Id"])
        for header in RATE_HEADERS:
            assert answer.headers[header].isdigit(), (answer.status_code, header)
    assert [a.status_code for a in answers] == [400, 200, 404, 404, 400, 401]


def test_the_per_token_rate_limit_answers_the_real_429(clock: ManualClock) -> None:
    with GenesysEmulator(clock=clock, rate_limit_per_minute=5) as emulator:
        seed(emulator)
        api = Api(emulator)
        path = f"/api/v2/conversations/{CONVERSATION_ID}"
        counts = [api.get(path).headers["inin-ratelimit-count"] for _ in range(5)]
        clock.advance(20)

        limited = api.get(path)

        assert counts == ["1", "2", "3", "4", "5"]
        assert_genesys_error(limited, 429, "too.many.requests.retry.after")
        assert limited.headers["Retry-After"] == "40"
        assert (
            limited.json()["message"] == "Rate limit exceeded the maximum. Retry the request in [40] seconds"
        )
        assert limited.headers["inin-ratelimit-allowed"] == "5"
        assert emulator.rate_limited_count == 1
        assert Api(emulator).get(path).status_code == 200  # the limit is per token

        clock.advance(40)  # the window resets
        assert api.get(path).status_code == 200


def test_initiate_chat_with_a_path_body_mismatch_answers_400(emulator: GenesysEmulator) -> None:
    seed(emulator)
    seed(emulator, "conv-0002")

    answer = Api(emulator).initiate(CONVERSATION_ID, body_id="conv-0002")

    assert_genesys_error(answer, 400, "invalid.value")
    assert emulator.chat_legs(CONVERSATION_ID) == []
    assert emulator.chat_legs("conv-0002") == []


def test_initiate_chat_without_a_conversation_id_creates_a_disjointed_conversation(
    emulator: GenesysEmulator,
) -> None:
    seed(emulator)
    api = Api(emulator)

    answer = api.initiate(CONVERSATION_ID, body_id="")

    assert answer.status_code == 201
    created = answer.json()["conversationId"]
    assert created != CONVERSATION_ID
    assert emulator.disjointed_conversations() == [created]
    assert emulator.chat_legs(CONVERSATION_ID) == []  # the email conversation got no chat: history lost
    assert api.get(f"/api/v2/conversations/emails/{created}/messages").json()["entities"] == []


def test_initiate_chat_while_a_chat_is_active_creates_a_second_leg(emulator: GenesysEmulator) -> None:
    seed(emulator)
    api = Api(emulator)

    first, second = api.initiate(), api.initiate()

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["participantId"] != second.json()["participantId"]
    assert [leg["state"] for leg in emulator.chat_legs(CONVERSATION_ID)] == ["alerting", "alerting"]


def test_initiate_chat_answers_the_guides_contract(emulator: GenesysEmulator) -> None:
    seed(emulator)

    answer = Api(emulator).initiate()

    assert answer.status_code == 201
    body = answer.json()
    assert body["conversationId"] == CONVERSATION_ID
    assert body["channelType"] == "chat"
    assert body["state"] == "alerting"
    [leg] = emulator.chat_legs(CONVERSATION_ID)
    assert (leg["session_id"], leg["participant_id"]) == (body["id"], body["participantId"])
    assert leg["initiation_method"] == "workflow"


def test_invalid_bodies_answer_400(emulator: GenesysEmulator) -> None:
    seed(emulator)
    api = Api(emulator)
    participant = api.get(f"/api/v2/conversations/{CONVERSATION_ID}").json()["participants"][0]["id"]
    attributes = f"/api/v2/conversations/{CONVERSATION_ID}/participants/{participant}/attributes"

    not_json = api.session.post(
        f"{api.base_url}/api/v2/conversations/emails/{CONVERSATION_ID}/initiateChat", data="{oops", timeout=5
    )
    number_attribute = api.patch(attributes, {"attributes": {"Account_Balance": 12}})
    push_without_link = api.post("/api/v2/notifications/push", {"recipient": {"type": "customer", "id": "c"}})

    assert_genesys_error(not_json, 400, "bad.request")
    assert_genesys_error(number_attribute, 400, "invalid.value")
    assert_genesys_error(push_without_link, 400, "invalid.value")


def test_injected_errors_follow_the_error_rate_deterministically(clock: ManualClock) -> None:
    def statuses(seed_value: int) -> list[int]:
        with GenesysEmulator(clock=clock, seed=seed_value) as emulator:
            seed(emulator)
            emulator.set_fault("get_conversation", error_rate=0.5)
            api = Api(emulator)
            return [api.get(f"/api/v2/conversations/{CONVERSATION_ID}").status_code for _ in range(40)]

    first, again = statuses(7), statuses(7)

    assert first == again
    assert set(first) == {200, 500}
    assert 8 <= first.count(500) <= 32


def test_an_outage_window_answers_503_until_it_ends(emulator: GenesysEmulator, clock: ManualClock) -> None:
    seed(emulator)
    api = Api(emulator)
    emulator.set_fault("get_conversation", outage_until=clock.now() + 30)
    path = f"/api/v2/conversations/{CONVERSATION_ID}"

    during = api.get(path)
    other_endpoint = api.get(f"/api/v2/conversations/emails/{CONVERSATION_ID}/messages")
    clock.advance(30)
    after = api.get(path)

    assert_genesys_error(during, 503, "service.unavailable")
    assert other_endpoint.status_code == 200
    assert after.status_code == 200
    assert emulator.error_count == 1


def test_outage_windows_can_open_later_and_repeat(emulator: GenesysEmulator, clock: ManualClock) -> None:
    seed(emulator)
    api = Api(emulator)
    emulator.set_fault(
        "get_conversation",
        outage_windows=[(clock.now() + 10, clock.now() + 30), (clock.now() + 40, clock.now() + 50)],
    )
    path = f"/api/v2/conversations/{CONVERSATION_ID}"

    statuses = []
    for step in (0, 10, 20, 10, 10):  # before, in the first window, between, in the second, after
        clock.advance(step)
        statuses.append(api.get(path).status_code)

    assert statuses == [200, 503, 200, 503, 200]


def test_a_timeout_outage_holds_the_connection_without_answering(
    emulator: GenesysEmulator, clock: ManualClock
) -> None:
    seed(emulator)
    api = Api(emulator)
    emulator.set_fault("initiate_chat", outage_until=clock.now() + 60, outage_mode="timeout")

    with pytest.raises(requests.ReadTimeout):
        api.post(f"/api/v2/conversations/emails/{CONVERSATION_ID}/initiateChat", {}, timeout=0.2)

    assert emulator.error_count == 1
    assert emulator.request_log()[-1]["status"] is None


def test_added_latency_delays_the_answer_and_faults_can_be_cleared(emulator: GenesysEmulator) -> None:
    seed(emulator)
    api = Api(emulator)
    emulator.set_fault("get_conversation", latency_s=0.5)
    path = f"/api/v2/conversations/{CONVERSATION_ID}"

    started = time.monotonic()
    slow = api.get(path)
    slow_s = time.monotonic() - started
    emulator.clear_faults()
    started = time.monotonic()
    api.get(path)
    fast_s = time.monotonic() - started

    assert slow.status_code == 200
    assert slow_s >= 0.5
    assert fast_s < 0.5  # generous: the machine is shared


def test_an_injected_fault_on_an_unknown_endpoint_is_refused(emulator: GenesysEmulator) -> None:
    with pytest.raises(ValueError, match="unknown endpoint"):
        emulator.set_fault("initiateChat", error_rate=1.0)


def test_concurrent_requests_are_all_answered_and_counted(emulator: GenesysEmulator) -> None:
    seed(emulator)
    access_token = token(emulator)
    statuses: list[int] = []
    lock = threading.Lock()

    def read() -> None:
        api = Api(emulator, access_token)
        for _ in range(25):
            status = api.get(f"/api/v2/conversations/{CONVERSATION_ID}").status_code
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert statuses == [200] * 100
    assert emulator.request_count == 101  # and the token request
    assert len(emulator.request_log()) == 101
