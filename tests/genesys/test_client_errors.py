"""Typed errors from real error bodies, 429 and Retry-After, the retry policy, timeouts, malformed answers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest
from client_harness import CONVERSATION_ID, CREDENTIALS, SleepRecorder, api_requests, seed
from email2chat.clock import ManualClock
from email2chat.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    GenesysError,
    MalformedResponse,
    NotFound,
    RateLimited,
    ServerError,
    Timeout,
    Unauthorized,
)
from email2chat.genesys.client import GenesysClient
from email2chat.genesys.models import InitiateChatRequest, PushNotification

from simulator.emulator import GenesysEmulator

PUSH = PushNotification("customer-42", "Chat?", "Tap here", "https://gcs.genesys.cloud/chat/session/s-1", "c")


@pytest.mark.parametrize(
    ("status", "error_type", "code"),
    [
        (400, BadRequest, "bad.request"),
        (403, Forbidden, "missing.permissions"),
        (404, NotFound, "not.found"),
        (409, Conflict, "conflict"),
        (500, ServerError, "internal.server.error"),
        (503, ServerError, "service.unavailable"),
        (504, ServerError, "request.timeout"),
        (408, Timeout, "error"),  # no Genesys code documented: the emulator's generic one
        (422, BadRequest, "error"),  # any other 4xx: the request itself is at fault
    ],
)
def test_every_error_status_maps_to_its_type_with_code_and_correlation_id(
    emulator: GenesysEmulator,
    make_client: Callable[..., GenesysClient],
    status: int,
    error_type: type[GenesysError],
    code: str,
) -> None:
    seed(emulator)
    emulator.set_fault("get_conversation", error_rate=1.0, error_status=status)
    client = make_client(get_retries=0)

    with pytest.raises(error_type) as raised:
        client.get_conversation(CONVERSATION_ID)

    [logged] = api_requests(emulator, "get_conversation")
    assert raised.value.status == status
    assert raised.value.code == code
    assert raised.value.correlation_id == logged["correlation_id"]
    assert logged["correlation_id"] in str(raised.value)


def test_genesys_error_text_is_kept_apart_from_what_str_shows(
    emulator: GenesysEmulator, make_client: Callable[..., GenesysClient]
) -> None:
    """``str(error)`` reaches Lambda's error log, the execution history and DLQs; Genesys's own text may
    echo what was sent (here: the email it refused), so only ``detail`` has it."""
    from email2chat.genesys.models import AgentlessEmail

    seed(emulator)
    client = make_client(get_retries=0)
    refused = AgentlessEmail(CONVERSATION_ID, "support@example.com", ("jane@example.com",), "", "hello")

    with pytest.raises(BadRequest) as raised:
        client.send_agentless_email(refused)

    assert raised.value.detail == "fromAddress and subject are required"
    assert str(raised.value).startswith("agentless_email: Bad Request status=400 code=invalid.value")
    assert "subject" not in str(raised.value)


def test_a_429_surfaces_as_rate_limited_with_the_servers_retry_after(
    clock: ManualClock, sleeper: SleepRecorder
) -> None:
    with GenesysEmulator(clock=clock, rate_limit_per_minute=3) as emulator:
        seed(emulator)
        client = GenesysClient(emulator.base_url, emulator.base_url, CREDENTIALS, clock=clock, sleep=sleeper)
        for _ in range(3):
            client.get_conversation(CONVERSATION_ID)
        clock.advance(15)  # 45 s left in the one-minute window

        with pytest.raises(RateLimited) as raised:
            client.send_push_notification(PUSH)

        assert raised.value.retry_after == 45
        assert raised.value.status == 429
        assert raised.value.code == "too.many.requests.retry.after"
        assert (
            len(api_requests(emulator, "push_notification")) == 1
        )  # a POST is never retried inside the client
        assert emulator.rate_limited_count == 1
        assert sleeper.waits == []
        assert client.last_rate_limit is not None
        assert client.last_rate_limit.remaining == 0


def test_a_get_waits_the_retry_after_then_succeeds(clock: ManualClock, sleeper: SleepRecorder) -> None:
    with GenesysEmulator(clock=clock, rate_limit_per_minute=2) as emulator:
        seed(emulator)
        client = GenesysClient(
            emulator.base_url,
            emulator.base_url,
            CREDENTIALS,
            clock=clock,
            sleep=sleeper,
            max_retry_wait_s=120,
        )
        client.get_conversation(CONVERSATION_ID)
        client.get_conversation(CONVERSATION_ID)

        conversation = client.get_conversation(CONVERSATION_ID)

        assert conversation.id == CONVERSATION_ID
        assert sleeper.waits == [60]  # exactly the server's Retry-After, on the injected sleep
        assert [e["status"] for e in api_requests(emulator, "get_conversation")] == [200, 200, 429, 200]


def test_a_get_raises_at_once_when_retry_after_exceeds_the_allowed_wait(
    clock: ManualClock, sleeper: SleepRecorder
) -> None:
    with GenesysEmulator(clock=clock, rate_limit_per_minute=1) as emulator:
        seed(emulator)
        client = GenesysClient(
            emulator.base_url, emulator.base_url, CREDENTIALS, clock=clock, sleep=sleeper, max_retry_wait_s=5
        )
        client.get_conversation(CONVERSATION_ID)

        with pytest.raises(RateLimited) as raised:
            client.get_conversation(CONVERSATION_ID)

        assert raised.value.retry_after == 60
        assert sleeper.waits == []
        assert len(api_requests(emulator, "get_conversation")) == 2


def test_a_get_is_retried_through_a_short_outage_with_backoff(
    emulator: GenesysEmulator, client: GenesysClient, clock: ManualClock, sleeper: SleepRecorder
) -> None:
    seed(emulator)
    emulator.set_fault("get_conversation", outage_until=clock.now() + 1.0)

    assert client.get_conversation(CONVERSATION_ID).id == CONVERSATION_ID

    assert sleeper.waits == [0.5, 1.0]
    assert [e["status"] for e in api_requests(emulator, "get_conversation")] == [503, 503, 200]


def test_a_get_gives_up_after_the_bounded_retries(
    emulator: GenesysEmulator, make_client: Callable[..., GenesysClient], sleeper: SleepRecorder
) -> None:
    seed(emulator)
    emulator.set_fault("get_conversation", error_rate=1.0, error_status=500)

    with pytest.raises(ServerError):
        make_client(get_retries=2).get_conversation(CONVERSATION_ID)

    assert len(api_requests(emulator, "get_conversation")) == 3
    assert len(sleeper.waits) == 2


def test_a_post_is_never_retried_on_a_server_error(emulator: GenesysEmulator, client: GenesysClient) -> None:
    seed(emulator)
    emulator.set_fault("initiate_chat", error_rate=1.0, error_status=503)

    with pytest.raises(ServerError):
        client.initiate_chat(InitiateChatRequest(CONVERSATION_ID, CONVERSATION_ID))

    assert len(api_requests(emulator, "initiate_chat")) == 1


def test_no_answer_within_the_read_timeout_raises_timeout(
    emulator: GenesysEmulator, make_client: Callable[..., GenesysClient], clock: ManualClock
) -> None:
    seed(emulator)
    emulator.set_fault("get_conversation", outage_until=clock.now() + 3600, outage_mode="timeout")
    client = make_client(read_timeout_s=0.2, get_retries=1)
    client.list_email_messages(CONVERSATION_ID)  # fetch the token outside the timed part

    started = time.monotonic()
    with pytest.raises(Timeout) as raised:
        client.get_conversation(CONVERSATION_ID)

    assert time.monotonic() - started < 1.5  # two attempts of 0.2 s and one 0.5 s backoff (clock only)
    assert "no answer within 0.2 s" in str(raised.value)
    assert [e["status"] for e in api_requests(emulator, "get_conversation")] == [None, None]
    assert emulator.error_count == 2


def test_a_post_that_times_out_is_not_retried(
    emulator: GenesysEmulator, make_client: Callable[..., GenesysClient], clock: ManualClock
) -> None:
    seed(emulator)
    emulator.set_fault("initiate_chat", outage_until=clock.now() + 60, outage_mode="timeout")

    with pytest.raises(Timeout):
        make_client(read_timeout_s=0.2).initiate_chat(InitiateChatRequest(CONVERSATION_ID, CONVERSATION_ID))

    assert len(api_requests(emulator, "initiate_chat")) == 1


def test_an_unreachable_host_raises_timeout(clock: ManualClock) -> None:
    with GenesysEmulator(clock=clock) as stopped:
        base_url = stopped.base_url  # a port nobody listens on once stopped
    client = GenesysClient(base_url, base_url, CREDENTIALS, clock=clock, get_retries=0, connect_timeout_s=0.5)

    with pytest.raises(Timeout, match=r"connection to 127\.0\.0\.1:\d+ failed"):
        client.get_conversation(CONVERSATION_ID)


def test_a_malformed_json_answer_raises_malformed_response(
    emulator: GenesysEmulator, client: GenesysClient
) -> None:
    seed(emulator)
    emulator.set_fault("get_conversation", malformed_rate=1.0)

    with pytest.raises(MalformedResponse) as raised:
        client.get_conversation(CONVERSATION_ID)

    assert raised.value.status == 200
    assert "not JSON" in str(raised.value)
    attempts = api_requests(emulator, "get_conversation")
    assert len(attempts) == 3  # a garbled 200 is retried like a 5xx, then surfaces
    assert raised.value.correlation_id == attempts[-1]["correlation_id"]


def test_a_get_is_retried_past_one_garbled_answer(
    emulator: GenesysEmulator, client: GenesysClient, sleeper: SleepRecorder
) -> None:
    seed(emulator)
    emulator.set_fault("get_conversation", malformed_rate=1.0)
    sleeper.on_wait = emulator.clear_faults  # the proxy recovers while the client waits

    assert client.get_conversation(CONVERSATION_ID).id == CONVERSATION_ID
    assert [e["status"] for e in api_requests(emulator, "get_conversation")] == [200, 200]


@pytest.mark.parametrize("status", [400, 403])
def test_a_refused_token_request_is_unauthorized_not_a_bad_email(
    emulator: GenesysEmulator, make_client: Callable[..., GenesysClient], status: int
) -> None:
    seed(emulator)
    emulator.set_fault("token", error_rate=1.0, error_status=status)

    with pytest.raises(Unauthorized) as raised:
        make_client().get_conversation(CONVERSATION_ID)

    assert raised.value.status == status


def test_every_call_logs_its_correlation_id(
    emulator: GenesysEmulator, client: GenesysClient, caplog: pytest.LogCaptureFixture
) -> None:
    seed(emulator)
    caplog.set_level(logging.INFO, logger="email2chat.genesys.client")

    client.get_conversation(CONVERSATION_ID)
    client.list_email_messages(CONVERSATION_ID)

    logged = {getattr(record, "correlation_id", None) for record in caplog.records}
    for entry in emulator.request_log():
        assert entry["correlation_id"] in logged
    assert "jane@example.com" not in caplog.text  # no customer address in clear


def test_a_dropped_connection_raises_timeout_not_a_requests_error(
    emulator: GenesysEmulator, make_client: Callable[..., GenesysClient], clock: ManualClock
) -> None:
    seed(emulator)
    emulator.timeout_hold_s = 0.05  # the emulator hangs up before the client's read timeout
    emulator.set_fault("initiate_chat", outage_until=clock.now() + 60, outage_mode="timeout")

    with pytest.raises(Timeout, match="dropped before an answer"):
        make_client(read_timeout_s=2.0).initiate_chat(InitiateChatRequest(CONVERSATION_ID, CONVERSATION_ID))


def test_the_token_endpoint_answering_429_is_retried_then_surfaces(
    emulator: GenesysEmulator, make_client: Callable[..., GenesysClient], sleeper: SleepRecorder
) -> None:
    seed(emulator)
    emulator.set_fault("token", error_rate=1.0, error_status=429)

    with pytest.raises(RateLimited) as raised:
        make_client(get_retries=2).get_conversation(CONVERSATION_ID)

    assert raised.value.retry_after == 1
    assert sleeper.waits == [1, 1]  # fetching a token changes nothing, so it is retried like a GET
    assert len(api_requests(emulator, "token")) == 3
    assert api_requests(emulator, "get_conversation") == []


def test_a_refused_disconnect_of_a_live_leg_is_an_error(
    emulator: GenesysEmulator, client: GenesysClient
) -> None:
    seed(emulator)
    session = client.initiate_chat(InitiateChatRequest(CONVERSATION_ID, CONVERSATION_ID))
    emulator.set_fault("disconnect_participant", error_rate=1.0, error_status=400)

    with pytest.raises(BadRequest):
        client.disconnect_participant(CONVERSATION_ID, session.participant_id)

    [leg] = emulator.chat_legs(CONVERSATION_ID)
    assert leg["state"] == "alerting"  # read back: still live, so the refusal is not "already done"


def test_a_genesys_error_is_described_without_the_text_genesys_sent() -> None:
    from email2chat.errors import BadRequest, InvalidEmailEvent, describe_error

    echoed = BadRequest("invalid toAddresses: jane@example.com", status=400, code="invalid.value")

    assert describe_error(echoed) == "BadRequest (status=400 code=invalid.value)"
    assert (
        describe_error(InvalidEmailEvent("no 'customer' object")) == "InvalidEmailEvent: no 'customer' object"
    )
