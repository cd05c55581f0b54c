"""The moto patches of the local stack (simulator.local_aws.moto_patches): moto's DynamoDB backend runs one
item operation at a time and hands back copies, a task token sent while an execution is starting finds no
token rather than crashing, and executions of one definition share its parsed program."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import moto.core.base_backend
import pytest
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.stepfunctions.parser.api import ExecutionStatus, InvalidToken
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from simulator.local_aws import LocalAwsStack
from simulator.local_aws.moto_patches import (
    backend_lookups_unlocked,
    definitions_parsed_once,
    dynamodb_requests_atomic,
    starting_executions_skipped,
)

THREADS = 8
REQUESTS_PER_THREAD = 10


class PeakConcurrency:
    """Wraps item operations of moto's DynamoDB backend; records how many threads were ever inside at once."""

    def __init__(self) -> None:
        self.inside = 0
        self.peak = 0
        self._guard = threading.Lock()

    def wrap(self, operation: Any) -> Any:
        def counting(*args: Any, **kwargs: Any) -> Any:
            with self._guard:
                self.inside += 1
                self.peak = max(self.peak, self.inside)
            try:
                return operation(*args, **kwargs)
            finally:
                with self._guard:
                    self.inside -= 1

        return counting


@pytest.fixture
def peak(monkeypatch: pytest.MonkeyPatch) -> PeakConcurrency:
    counter = PeakConcurrency()
    for operation in ("put_item", "get_item", "update_item"):
        monkeypatch.setattr(DynamoDBBackend, operation, counter.wrap(getattr(DynamoDBBackend, operation)))
    return counter


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def _hammer(client: Any) -> None:
    """THREADS threads, released together, each writing a new key, updating it and reading it back."""
    barrier = threading.Barrier(THREADS)

    def work(thread: int) -> None:
        barrier.wait()
        for request in range(REQUESTS_PER_THREAD):
            key = {"pk": {"S": f"{thread}-{request}"}}
            client.put_item(TableName="t", Item=key, ConditionExpression="attribute_not_exists(pk)")
            client.update_item(
                TableName="t",
                Key=key,
                UpdateExpression="SET n = if_not_exists(n, :zero) + :one",
                ExpressionAttributeValues={":zero": {"N": "0"}, ":one": {"N": "1"}},
            )
            client.get_item(TableName="t", Key=key, ConsistentRead=True)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_one_item_operation_at_a_time_inside_the_block(peak: PeakConcurrency, dynamodb: Any) -> None:
    with dynamodb_requests_atomic():
        _hammer(dynamodb)
    assert peak.peak == 1
    assert dynamodb.scan(TableName="t")["Count"] == THREADS * REQUESTS_PER_THREAD


def test_operations_hand_back_copies_of_the_stored_items(dynamodb: Any) -> None:
    dynamodb.put_item(TableName="t", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
    backend = dynamodb_backends["123456789012"]["us-east-1"]
    stored = backend.get_table("t").get_item(DynamoType({"S": "a"}))
    assert backend.get_item("t", {"pk": {"S": "a"}}) is stored  # moto as shipped: the live item
    with dynamodb_requests_atomic():
        got = backend.get_item("t", {"pk": {"S": "a"}})
        scanned = backend.scan("t", {}, 10, None, None, {}, {}, None, True, None, (None, None))[0]
    assert got is not stored
    assert got.attrs == stored.attrs
    assert all(item is not stored for item in scanned)


def test_the_backend_is_restored_after_the_block_and_nesting_patches_once() -> None:
    original = DynamoDBBackend.update_item
    with dynamodb_requests_atomic():
        patched = DynamoDBBackend.update_item
        with dynamodb_requests_atomic():
            assert DynamoDBBackend.update_item is patched
        assert DynamoDBBackend.update_item is patched
    assert DynamoDBBackend.update_item is original
    assert patched is not original


def _backend_with_a_starting_execution() -> StepFunctionsParserBackend:
    """A backend holding one RUNNING execution whose worker thread has not built its environment yet."""
    backend = StepFunctionsParserBackend("us-east-1", "123456789012")
    starting = SimpleNamespace(status=ExecutionStatus.RUNNING, exec_worker=SimpleNamespace(env=None))
    backend.state_machines.append(SimpleNamespace(executions=[starting]))  # type: ignore[arg-type]
    return backend


def test_a_token_sent_while_an_execution_starts_is_an_invalid_token_not_a_crash() -> None:
    backend = _backend_with_a_starting_execution()
    with pytest.raises(AttributeError):  # moto as shipped
        backend.send_task_success("token-of-a-finished-wait", "{}")
    with starting_executions_skipped(), pytest.raises(InvalidToken):
        backend.send_task_success("token-of-a-finished-wait", "{}")
    with starting_executions_skipped(), pytest.raises(InvalidToken):
        backend.send_task_heartbeat("token-of-a-finished-wait")


def _worker_of(definition: dict[str, Any]) -> Any:
    """The part of an ExecutionWorker that ``_get_evaluation_entrypoint`` reads."""
    details = SimpleNamespace(state_machine_details=SimpleNamespace(definition=json.dumps(definition)))
    return SimpleNamespace(_evaluation_details=details)


PASS = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
MAP = {
    "StartAt": "M",
    "States": {
        "M": {
            "Type": "Map",
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
            "End": True,
        }
    },
}


def test_executions_of_one_definition_share_its_parsed_program() -> None:
    entrypoint = ExecutionWorker._get_evaluation_entrypoint
    assert entrypoint(_worker_of(PASS)) is not entrypoint(_worker_of(PASS))  # moto as shipped
    with definitions_parsed_once():
        entrypoint = ExecutionWorker._get_evaluation_entrypoint
        first = entrypoint(_worker_of(PASS))
        assert entrypoint(_worker_of(PASS)) is first
        other = {**PASS, "States": {"A": {"Type": "Pass", "Result": 1, "End": True}}}
        assert entrypoint(_worker_of(other)) is not first
        # Map keeps worker counts in its components: never shared
        assert entrypoint(_worker_of(MAP)) is not entrypoint(_worker_of(MAP))


def test_the_local_stack_applies_every_patch_while_it_runs(tmp_path: Any) -> None:
    template = tmp_path / "template.yaml"
    template.write_text('AWSTemplateFormatVersion: "2010-09-09"\nResources: {}\n')

    def current() -> tuple[Any, ...]:
        return (
            DynamoDBBackend.put_item,
            StepFunctionsParserBackend._get_executions,
            ExecutionWorker._get_evaluation_entrypoint,
        )

    originals = current()
    with LocalAwsStack(template, time_scale=0.01):
        patched = current()
    assert all(p is not o for p, o in zip(patched, originals, strict=True))
    assert current() == originals


class CountingLock:
    """Stands in for moto's global backend lock and counts who took it."""

    def __init__(self) -> None:
        self.taken = 0
        self._lock = threading.RLock()

    def __enter__(self) -> None:
        self.taken += 1
        self._lock.acquire()

    def __exit__(self, *_: object) -> None:
        self._lock.release()


@pytest.mark.parametrize("patched", [False, True])
def test_a_backend_that_exists_is_looked_up_without_motos_global_lock(
    monkeypatch: pytest.MonkeyPatch, patched: bool
) -> None:
    lock = CountingLock()
    monkeypatch.setattr(moto.core.base_backend, "backend_lock", lock)
    with mock_aws():
        with backend_lookups_unlocked() if patched else contextlib.nullcontext():
            first = dynamodb_backends["123456789012"]  # created: that takes the lock
            taken_to_create = lock.taken
            again = [dynamodb_backends["123456789012"] for _ in range(5)]
        assert all(backend is first for backend in again)
        assert taken_to_create >= 1
        assert lock.taken - taken_to_create == (0 if patched else 5)
