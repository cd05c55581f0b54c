"""The two moto races the local stack closes (simulator.local_aws.moto_patches): DynamoDB handles one request
at a time (without the patch eight threads were inside moto's DynamoDB handler at once in every measured
run), and a task token sent while an execution is starting finds no token rather than crashing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.responses import DynamoHandler
from moto.stepfunctions.parser.api import ExecutionStatus, InvalidToken
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from simulator.local_aws import LocalAwsStack
from simulator.local_aws.moto_patches import dynamodb_requests_atomic, starting_executions_skipped

THREADS = 8
REQUESTS_PER_THREAD = 10


class PeakConcurrency:
    """Wraps moto's DynamoDB request handler and records how many threads were ever inside it at once."""

    def __init__(self) -> None:
        self.inside = 0
        self.peak = 0
        self._guard = threading.Lock()

    def wrap(self, call_action: Any) -> Any:
        def counting(handler: DynamoHandler) -> Any:
            with self._guard:
                self.inside += 1
                self.peak = max(self.peak, self.inside)
            try:
                return call_action(handler)
            finally:
                with self._guard:
                    self.inside -= 1

        return counting


@pytest.fixture
def peak(monkeypatch: pytest.MonkeyPatch) -> PeakConcurrency:
    counter = PeakConcurrency()
    monkeypatch.setattr(DynamoHandler, "call_action", counter.wrap(DynamoHandler.call_action))
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
    """THREADS threads, released together, each writing new keys and reading one back."""
    barrier = threading.Barrier(THREADS)

    def work(thread: int) -> None:
        barrier.wait()
        for request in range(REQUESTS_PER_THREAD):
            key = {"pk": {"S": f"{thread}-{request}"}}
            client.put_item(TableName="t", Item=key, ConditionExpression="attribute_not_exists(pk)")
            client.get_item(TableName="t", Key=key, ConsistentRead=True)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_one_request_at_a_time_inside_the_block(peak: PeakConcurrency, dynamodb: Any) -> None:
    with dynamodb_requests_atomic():
        _hammer(dynamodb)
    assert peak.peak == 1
    assert dynamodb.scan(TableName="t")["Count"] == THREADS * REQUESTS_PER_THREAD


def test_the_handler_is_restored_after_the_block_and_nesting_patches_once() -> None:
    original = DynamoHandler.call_action
    with dynamodb_requests_atomic():
        patched = DynamoHandler.call_action
        with dynamodb_requests_atomic():
            assert DynamoHandler.call_action is patched
        assert DynamoHandler.call_action is patched
    assert DynamoHandler.call_action is original
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


def test_the_local_stack_closes_both_races_while_it_runs(tmp_path: Any) -> None:
    template = tmp_path / "template.yaml"
    template.write_text('AWSTemplateFormatVersion: "2010-09-09"\nResources: {}\n')
    originals = (DynamoHandler.call_action, StepFunctionsParserBackend._get_executions)
    with LocalAwsStack(template, time_scale=0.01):
        assert DynamoHandler.call_action is not originals[0]
        assert StepFunctionsParserBackend._get_executions is not originals[1]
    assert (DynamoHandler.call_action, StepFunctionsParserBackend._get_executions) == originals
