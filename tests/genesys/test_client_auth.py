"""OAuth client credentials: one shared token, renewal before expiry and after a 401, credentials sources."""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Callable

import boto3
import pytest
from client_harness import CONVERSATION_ID, CREDENTIALS, api_requests, seed
from email2chat.clock import ManualClock
from email2chat.config import Settings
from email2chat.errors import ConfigError, Unauthorized
from email2chat.genesys.auth import ClientCredentials, clear_token_caches
from email2chat.genesys.client import GenesysClient
from moto import mock_aws

from simulator.emulator import GenesysEmulator


def test_one_token_serves_every_call_of_every_client_in_the_process(
    emulator: GenesysEmulator, make_client: Callable[..., GenesysClient]
) -> None:
    seed(emulator)
    first, second = make_client(), make_client()

    for _ in range(5):
        first.get_conversation(CONVERSATION_ID)
        second.list_email_messages(CONVERSATION_ID)

    assert emulator.tokens_issued == 1
    assert len(api_requests(emulator, "token")) == 1


def test_concurrent_first_calls_fetch_a_single_token(
    emulator: GenesysEmulator, make_client: Callable[..., GenesysClient]
) -> None:
    seed(emulator)
    clients = [make_client() for _ in range(8)]
    failures: list[BaseException] = []

    def read(client: GenesysClient) -> None:
        try:
            client.get_conversation(CONVERSATION_ID)
        except BaseException as exc:  # collected, asserted below
            failures.append(exc)

    threads = [threading.Thread(target=read, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert failures == []
    assert emulator.tokens_issued == 1


def test_token_is_renewed_shortly_before_it_expires(clock: ManualClock) -> None:
    with GenesysEmulator(clock=clock, token_ttl_s=600) as emulator:
        seed(emulator)
        client = GenesysClient(emulator.base_url, emulator.base_url, CREDENTIALS, clock=clock)
        client.get_conversation(CONVERSATION_ID)

        clock.advance(500)  # well inside the lifetime: same token
        client.get_conversation(CONVERSATION_ID)
        assert emulator.tokens_issued == 1

        clock.advance(45)  # 55 s left, inside the 60 s renewal margin: renewed before Genesys would refuse it
        client.get_conversation(CONVERSATION_ID)
        assert emulator.tokens_issued == 2
        assert all(entry["status"] == 200 for entry in emulator.request_log())


def test_a_401_renews_the_token_once_and_the_call_succeeds(
    emulator: GenesysEmulator, client: GenesysClient
) -> None:
    seed(emulator)
    client.get_conversation(CONVERSATION_ID)
    emulator.revoke_tokens()  # e.g. revoked by an admin, or expired earlier than announced

    conversation = client.get_conversation(CONVERSATION_ID)

    assert conversation.id == CONVERSATION_ID
    assert emulator.tokens_issued == 2
    assert [e["status"] for e in api_requests(emulator, "get_conversation")] == [200, 401, 200]


def test_a_401_after_renewal_raises_unauthorized(emulator: GenesysEmulator, client: GenesysClient) -> None:
    seed(emulator)
    emulator.set_fault("get_conversation", error_rate=1.0, error_status=401)

    with pytest.raises(Unauthorized) as raised:
        client.get_conversation(CONVERSATION_ID)

    assert raised.value.status == 401
    assert raised.value.code == "authentication.required"
    assert emulator.tokens_issued == 2  # renewed exactly once, not in a loop
    assert len(api_requests(emulator, "get_conversation")) == 2


def test_wrong_client_secret_raises_unauthorized_with_the_oauth_error(
    emulator: GenesysEmulator, make_client: Callable[..., GenesysClient]
) -> None:
    seed(emulator)
    client = make_client(credentials=ClientCredentials("local-client", "wrong-secret"))

    with pytest.raises(Unauthorized) as raised:
        client.get_conversation(CONVERSATION_ID)

    assert raised.value.status == 401
    assert raised.value.code == "invalid_client"
    assert raised.value.correlation_id == api_requests(emulator, "token")[0]["correlation_id"]
    assert api_requests(emulator, "get_conversation") == []


def test_the_secret_never_appears_in_reprs_or_logs(
    emulator: GenesysEmulator, client: GenesysClient, caplog: pytest.LogCaptureFixture
) -> None:
    seed(emulator)
    caplog.set_level(logging.DEBUG)
    client.get_conversation(CONVERSATION_ID)
    emulator.revoke_tokens()
    client.get_conversation(CONVERSATION_ID)
    basic = base64.b64encode(b"local-client:local-secret").decode()

    shown = [repr(CREDENTIALS), str(CREDENTIALS), repr(client), caplog.text]
    shown += [repr(record.__dict__) for record in caplog.records]

    assert caplog.records, "the client logs its calls"
    for text in shown:
        assert "local-secret" not in text
        assert basic not in text
    assert "client_secret='***'" in repr(CREDENTIALS)


def test_from_settings_points_at_the_region_hosts() -> None:
    settings = Settings(genesys_region="eu-west-1", genesys_client_id="id", genesys_client_secret="secret")

    client = GenesysClient.from_settings(settings)

    assert client.api_base == "https://api.mypurecloud.ie"
    assert client.login_base == "https://login.mypurecloud.ie"


def test_from_settings_points_at_the_emulator_with_the_base_url_override(
    emulator: GenesysEmulator, clock: ManualClock
) -> None:
    seed(emulator)
    settings = Settings(
        genesys_base_url=emulator.base_url,
        genesys_client_id="local-client",
        genesys_client_secret="local-secret",
    )

    client = GenesysClient.from_settings(settings, clock=clock)

    assert client.api_base == client.login_base == emulator.base_url
    assert client.get_conversation(CONVERSATION_ID).id == CONVERSATION_ID


def test_from_settings_without_credentials_names_the_variables() -> None:
    with pytest.raises(ConfigError) as raised:
        GenesysClient.from_settings(Settings())

    assert "GENESYS_SECRET_ARN" in str(raised.value)
    assert "GENESYS_CLIENT_ID" in str(raised.value)


class CountingSecrets:
    """Wraps a moto Secrets Manager client to count reads."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.reads = 0

    def get_secret_value(self, **kwargs: object) -> dict[str, object]:
        self.reads += 1
        return self.inner.get_secret_value(**kwargs)  # type: ignore[attr-defined, no-any-return]


def test_from_settings_reads_the_secrets_manager_secret_lazily_and_once(
    emulator: GenesysEmulator, clock: ManualClock
) -> None:
    seed(emulator)
    with mock_aws():
        secretsmanager = boto3.client("secretsmanager", region_name="eu-west-1")
        arn = secretsmanager.create_secret(
            Name="genesys/oauth",
            SecretString=json.dumps({"client_id": "local-client", "client_secret": "local-secret"}),
        )["ARN"]
        counting = CountingSecrets(secretsmanager)
        settings = Settings(genesys_base_url=emulator.base_url, genesys_secret_arn=arn)

        client = GenesysClient.from_settings(settings, secrets_client=counting, clock=clock)
        assert counting.reads == 0  # a cold start that never calls Genesys pays nothing

        client.get_conversation(CONVERSATION_ID)
        clear_token_caches()  # even when a new token is needed, the secret is not read again
        client.get_conversation(CONVERSATION_ID)

        assert counting.reads == 1
        assert emulator.tokens_issued == 2


def test_a_malformed_secret_raises_config_error_without_the_secret(clock: ManualClock) -> None:
    with mock_aws():
        secretsmanager = boto3.client("secretsmanager", region_name="eu-west-1")
        arn = secretsmanager.create_secret(Name="genesys/bad", SecretString='{"id": "x", "pw": "hunter2"}')[
            "ARN"
        ]
        settings = Settings(genesys_base_url="http://127.0.0.1:9", genesys_secret_arn=arn)
        client = GenesysClient.from_settings(settings, secrets_client=secretsmanager, clock=clock)

        with pytest.raises(ConfigError) as raised:
            client.get_conversation(CONVERSATION_ID)

    assert "client_id and client_secret" in str(raised.value)
    assert "hunter2" not in str(raised.value)
