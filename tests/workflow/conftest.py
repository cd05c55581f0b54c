"""Fixtures for the workflow steps: moto (DynamoDB, SQS, Step Functions), the Genesys emulator on 127.0.0.1,
a manual clock, and a runtime wired from them exactly as the Lambda composition root wires the real ones."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from email2chat import observability
from email2chat.clock import ManualClock
from email2chat.config import Settings
from email2chat.genesys.auth import clear_token_caches
from email2chat.genesys.client import ClientCredentials, GenesysClient
from email2chat.mapping import AttributeMapper
from email2chat.runtime import Runtime, build_runtime, set_runtime
from email2chat.state.table import StateTable
from moto import mock_aws

from simulator.emulator import GenesysEmulator

REGION = "us-east-1"
TABLE = "email2chat-state"
URGENT_WORD = "urgent"


@dataclass(frozen=True)
class FakeDecision:
    score: float
    threshold: float
    urgent: bool
    by_score: bool
    wait_trigger_fired: bool


class KeywordClassifier:
    """Stands in for the model: the workflow's decisions, not the model's quality, are under test here."""

    def decide(
        self,
        subject: str = "",
        text: str = "",
        html: str = "",
        *,
        queue_wait_minutes: float = 0.0,
        threshold: float = 0.85,
        wait_trigger_minutes: float = 15.0,
    ) -> FakeDecision:
        score = 0.97 if URGENT_WORD in f"{subject} {text} {html}".lower() else 0.12
        by_score = score > threshold
        fired = queue_wait_minutes > wait_trigger_minutes
        return FakeDecision(score, threshold, by_score or fired, by_score, fired)


class RecordingSfn:
    """Wraps the moto Step Functions client: records SendTaskSuccess; a token already used is stale."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.completed: list[tuple[str, dict[str, Any]]] = []
        self.used: set[str] = set()

    def send_task_success(self, *, taskToken: str, output: str) -> dict[str, Any]:
        if taskToken in self.used:
            raise ClientError(
                {"Error": {"Code": "TaskTimedOut", "Message": "Task Timed Out"}}, "SendTaskSuccess"
            )
        self.used.add(taskToken)
        self.completed.append((taskToken, json.loads(output)))
        return {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class RecordingSqs:
    """The moto SQS client, recording what was sent (delayed messages cannot be received early)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.sent: list[dict[str, Any]] = []

    def send_message(self, **kwargs: Any) -> Any:
        self.sent.append(kwargs)
        return self._client.send_message(**kwargs)

    def sent_to(self, queue_url: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["QueueUrl"] == queue_url]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@dataclass
class World:
    clock: ManualClock
    emulator: GenesysEmulator
    runtime: Runtime
    sqs: RecordingSqs
    sfn: Any
    dynamodb: Any
    intake_queue_url: str
    dlq_url: str
    state_machine_arn: str
    events: list[dict[str, Any]]
    metrics: list[observability.MetricEvent]

    def seed(self, conversation_id: str, **overrides: Any) -> str:
        options: dict[str, Any] = {
            "subject": "Card blocked, urgent",
            "text_body": "My card is blocked and I need it now, urgent please.",
            "customer_id": f"cust-{conversation_id}",
            "customer_email": f"{conversation_id}@customer.example",
            "customer_name": "Ada",
            "attributes": {"Account_ID": "A-1", "Product_Type": "card"},
        }
        options.update(overrides)
        return self.emulator.seed_email_conversation(conversation_id, **options)

    def direct_message(self, email_id: str, conversation_id: str, **overrides: Any) -> dict[str, Any]:
        message: dict[str, Any] = {
            "email_id": email_id,
            "conversation_id": conversation_id,
            "subject": "Card blocked, urgent",
            "body": "My card is blocked and I need it now, urgent please.",
            "customer": {"id": f"cust-{conversation_id}", "email": f"{conversation_id}@customer.example"},
            "attributes": {"Account_ID": "A-1", "Product_Type": "card"},
            "queue_wait_minutes": 0,
        }
        message.update(overrides)
        return message

    def sqs_record(self, body: Any, *, message_id: str = "m-1", receive_count: int = 1) -> dict[str, Any]:
        return {
            "messageId": message_id,
            "receiptHandle": f"rh-{message_id}",
            "body": body if isinstance(body, str) else json.dumps(body),
            "attributes": {"ApproximateReceiveCount": str(receive_count)},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
        }

    def executions(self) -> list[dict[str, Any]]:
        return self.sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]

    def execution_input(self, name: str) -> dict[str, Any]:
        arn = self.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
        return json.loads(self.sfn.describe_execution(executionArn=arn)["input"])

    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while True:
            answer = self.sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
            )
            batch = answer.get("Messages", [])
            if not batch:
                return messages
            messages.extend(batch)
            for message in batch:
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


_CLIENTS: list[Any] = []


def _aws_clients() -> tuple[Any, Any, Any]:
    """boto3 clients cost ~0.25 s to create: made once (inside the first mock) and reused; every test gets
    fresh moto backends because each ``mock_aws()`` resets them."""
    if not _CLIENTS:
        session = boto3.session.Session(region_name=REGION)
        _CLIENTS.extend(session.client(name) for name in ("dynamodb", "sqs", "stepfunctions"))
    dynamodb, sqs, sfn = _CLIENTS
    return dynamodb, sqs, sfn


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
def world(clock: ManualClock, settings_overrides: dict[str, Any]) -> Iterator[World]:
    clear_token_caches()
    events: list[dict[str, Any]] = []
    metrics: list[observability.MetricEvent] = []
    remove_listener = observability.add_listener(metrics.append)
    observability.set_emf_output(False)
    with mock_aws(), GenesysEmulator(clock=clock, event_sink=events.append, timeout_hold_s=1.0) as emulator:
        dynamodb, raw_sqs, sfn = _aws_clients()
        sqs = RecordingSqs(raw_sqs)
        StateTable.create_table(dynamodb, TABLE)
        dlq_url = sqs.create_queue(QueueName="intake-dlq")["QueueUrl"]
        intake_url = sqs.create_queue(QueueName="intake")["QueueUrl"]
        machine_arn = sfn.create_state_machine(
            name="upgrade",
            definition=json.dumps({"StartAt": "Noop", "States": {"Noop": {"Type": "Pass", "End": True}}}),
            roleArn="arn:aws:iam::123456789012:role/sfn",
        )["stateMachineArn"]
        options: dict[str, Any] = {
            "state_table_name": TABLE,
            "intake_queue_url": intake_url,
            "dead_letter_queue_url": dlq_url,
            "state_machine_arn": machine_arn,
            "genesys_base_url": emulator.base_url,
        }
        options.update(settings_overrides)
        settings = Settings(**options)
        genesys = GenesysClient(
            emulator.base_url,
            emulator.base_url,
            ClientCredentials("local-client", "local-secret"),
            clock=clock,
            sleep=clock.advance,
            read_timeout_s=5.0,  # generous: the machine is shared; the timeout test swaps in a short one
            get_retries=0,
        )
        runtime = build_runtime(
            settings,
            clock=clock,
            genesys=genesys,
            dynamodb_client=dynamodb,
            sqs_client=sqs,
            sfn_client=sfn,
            classifier=KeywordClassifier(),
            mapper=AttributeMapper.load_default(),
            sleep=clock.advance,
        )
        set_runtime(runtime)
        try:
            yield World(
                clock=clock,
                emulator=emulator,
                runtime=runtime,
                sqs=sqs,
                sfn=sfn,
                dynamodb=dynamodb,
                intake_queue_url=intake_url,
                dlq_url=dlq_url,
                state_machine_arn=machine_arn,
                events=events,
                metrics=metrics,
            )
        finally:
            set_runtime(None)
            remove_listener()
            clear_token_caches()


@pytest.fixture
def start_case(world: World) -> Callable[..., dict[str, Any]]:
    """Put one urgent direct email through the intake and return the execution input it started."""

    def start(conversation_id: str, *, email_id: str | None = None, **seed: Any) -> dict[str, Any]:
        from email2chat.workflow.intake import process_record

        world.seed(conversation_id, **seed)
        email_id = email_id or f"email-{conversation_id}"
        outcome = process_record(
            world.sqs_record(world.direct_message(email_id, conversation_id)), world.runtime
        )
        assert outcome == "started"
        return world.execution_input(f"{email_id}-1")

    return start
