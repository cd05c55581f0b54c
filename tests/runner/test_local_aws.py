"""The moto harness on a tiny throwaway stack: template parsing, substitutions, in-process dispatch,
ASL error names, the task-token wait (success and timeout) and SQS redrive. No Genesys, no project code."""

from __future__ import annotations

import json
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from simulator.local_aws import LocalAwsStack, load_cfn_yaml, scale_seconds

TEMPLATE = textwrap.dedent(
    """
    AWSTemplateFormatVersion: "2010-09-09"
    Transform: AWS::Serverless-2016-10-31
    Parameters:
      WaitSeconds: {Type: Number, Default: 300}
      MaxAttempts: {Type: Number, Default: 2}
    Globals:
      Function:
        Runtime: python3.12
        Timeout: 10
        Environment:
          Variables:
            STATE_TABLE_NAME: !Ref Table
    Resources:
      Table:
        Type: AWS::DynamoDB::Table
        Properties:
          TableName: !Sub "${AWS::StackName}-state"
          BillingMode: PAY_PER_REQUEST
          AttributeDefinitions: [{AttributeName: pk, AttributeType: S}, {AttributeName: sk, AttributeType: S}]
          KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: sk, KeyType: RANGE}]
          TimeToLiveSpecification: {AttributeName: expires_at, Enabled: true}
      DeadLetters:
        Type: AWS::SQS::Queue
      Intake:
        Type: AWS::SQS::Queue
        Properties:
          VisibilityTimeout: 60
          RedrivePolicy:
            deadLetterTargetArn: !GetAtt DeadLetters.Arn
            maxReceiveCount: 2
      Greeter:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: functions/greeter/
          Handler: app.handler
          Environment: {Variables: {INTAKE_QUEUE_URL: !Ref Intake, WAIT: !Ref WaitSeconds}}
          Events:
            FromQueue: {Type: SQS, Properties: {Queue: !GetAtt Intake.Arn}}
      Failer:
        Type: AWS::Serverless::Function
        Properties: {CodeUri: functions/failer/, Handler: app.handler}
      Parker:
        Type: AWS::Serverless::Function
        Properties: {CodeUri: functions/parker/, Handler: app.handler}
      Machine:
        Type: AWS::Serverless::StateMachine
        Properties:
          DefinitionUri: statemachine/tiny.asl.json
          DefinitionSubstitutions:
            GreeterArn: !GetAtt Greeter.Arn
            FailerArn: !GetAtt Failer.Arn
            ParkerArn: !GetAtt Parker.Arn
            WaitSeconds: !Ref WaitSeconds
            MaxAttempts: !Ref MaxAttempts
            IntakeUrl: !Ref Intake
    """
)

ASL = {
    "StartAt": "Greet",
    "States": {
        "Greet": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${GreeterArn}", "Payload.$": "$", "Queue": "${IntakeUrl}"},
            "OutputPath": "$.Payload",
            "Next": "Fail",
        },
        "Fail": {
            "Type": "Task",
            "Resource": "${FailerArn}",
            "Retry": [
                {"ErrorEquals": ["RateLimited"], "IntervalSeconds": 1, "MaxAttempts": "${MaxAttempts}"}
            ],
            "Catch": [{"ErrorEquals": ["RateLimited"], "ResultPath": "$.error", "Next": "Park"}],
            "Next": "Park",
        },
        "Park": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {
                "FunctionName": "${ParkerArn}",
                "Payload": {"token.$": "$$.Task.Token", "name.$": "$.name"},
            },
            "TimeoutSeconds": "${WaitSeconds}",
            "ResultPath": "$.answer",
            "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.timeout", "Next": "Done"}],
            "Next": "Done",
        },
        "Done": {"Type": "Pass", "End": True},
    },
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    text = json.dumps(ASL, indent=1)
    # numeric substitutions are unquoted in a real ASL file, as SAM substitutes text
    text = text.replace('"${MaxAttempts}"', "${MaxAttempts}").replace('"${WaitSeconds}"', "${WaitSeconds}")
    (tmp_path / "statemachine").mkdir()
    (tmp_path / "statemachine" / "tiny.asl.json").write_text(text)
    sources = {
        "greeter": (
            "def handler(event, context):\n    return {**event, 'greeted_by': context.function_name}\n"
        ),
        "failer": (
            "class RateLimited(Exception):\n    pass\n"
            "def handler(event, context):\n    raise RateLimited('429 from Genesys')\n"
        ),
        "parker": (
            "PARKED = []\n"
            "def handler(event, context):\n    PARKED.append(event)\n    return {'parked': True}\n"
        ),
    }
    for name, source in sources.items():
        (tmp_path / "functions" / name).mkdir(parents=True)
        (tmp_path / "functions" / name / "app.py").write_text(source)
    return tmp_path


def _wait_for_execution(stack: LocalAwsStack, arn: str, timeout_s: float = 20.0) -> dict[str, Any]:
    return _wait_for_status(stack.client("stepfunctions"), arn, timeout_s)


def test_short_tags_become_long_form() -> None:
    data = load_cfn_yaml(
        "A: !Ref X\nB: !GetAtt Fn.Arn\nC: !Sub '${AWS::StackName}-x'\nD: !Join ['', [a, b]]\n"
    )
    assert data == {
        "A": {"Ref": "X"},
        "B": {"Fn::GetAtt": ["Fn", "Arn"]},
        "C": {"Fn::Sub": "${AWS::StackName}-x"},
        "D": {"Fn::Join": ["", ["a", "b"]]},
    }


def test_scaled_seconds_are_positive_integers() -> None:
    assert scale_seconds(300, 0.01) == 3
    assert scale_seconds(10, 0.01) == 1
    assert scale_seconds(0, 0.01) == 1
    assert scale_seconds(301, 0.01) == 4


def test_stack_builds_resources_and_substitutes_real_timings(project: Path) -> None:
    with LocalAwsStack(project / "template.yaml", time_scale=0.01) as stack:
        assert set(stack.queue_urls) == {"DeadLetters", "Intake"}
        assert stack.table_names == {"Table": "email2chat-local-state"}
        intake = stack.client("sqs").get_queue_attributes(
            QueueUrl=stack.queue_urls["Intake"], AttributeNames=["All"]
        )["Attributes"]
        assert json.loads(intake["RedrivePolicy"])["deadLetterTargetArn"] == stack.queue_arns["DeadLetters"]
        assert intake["VisibilityTimeout"] == "1"  # 60 s scaled by 0.01
        park = stack.definition["States"]["Park"]
        assert park["TimeoutSeconds"] == 3  # 300 s scaled by 0.01
        assert stack.definition["States"]["Fail"]["Retry"][0]["MaxAttempts"] == 2  # counts are not scaled
        assert stack.definition["States"]["Greet"]["Parameters"]["Queue"] == stack.queue_urls["Intake"]
        env = stack.function_environment("Greeter")
        # production timings in the environment: handlers read time from the (scaled) clock
        assert env == {
            "STATE_TABLE_NAME": "email2chat-local-state",
            "INTAKE_QUEUE_URL": stack.queue_urls["Intake"],
            "WAIT": "300",
        }
        assert stack.queue_for_function_event("Greeter") == "Intake"
        assert stack.dead_letter_queue_of("Intake") == "DeadLetters"


def test_execution_dispatches_in_process_and_names_errors(project: Path) -> None:
    overrides = {"WaitSeconds": 1, "MaxAttempts": 1}  # real units: keep the test short
    with LocalAwsStack(project / "template.yaml", time_scale=0.01, parameter_overrides=overrides) as stack:
        sfn = stack.client("stepfunctions")
        started = time.monotonic()
        arn = sfn.start_execution(
            stateMachineArn=stack.state_machine_arn, name="tiny-1", input=json.dumps({"name": "ada"})
        )["executionArn"]
        described = _wait_for_execution(stack, arn)
        output = json.loads(described["output"])
        assert described["status"] == "SUCCEEDED"
        assert output["greeted_by"] == "Greeter"
        # the handler's exception class is the ASL error name, so Retry and Catch match it
        assert output["error"]["Error"] == "RateLimited"
        assert json.loads(output["error"]["Cause"])["errorMessage"] == "429 from Genesys"
        # nobody completed the token: the wait ends at TimeoutSeconds and States.Timeout is caught
        assert output["timeout"]["Error"] == "States.Timeout"
        assert time.monotonic() - started >= 1.0
        failer_calls = [i for i in stack.lambdas.invocations if i.function == "Failer"]
        assert len(failer_calls) == 2  # first try + MaxAttempts retries
        assert all(i.error_type == "RateLimited" for i in failer_calls)


def test_task_token_success_ends_the_wait_early(project: Path) -> None:
    parked_at: list[float] = []

    def parker(event: dict[str, Any], context: Any) -> dict[str, Any]:
        parked_at.append(time.monotonic())

        # as the status-events function does: complete the token from another thread, at once
        def complete() -> None:
            stack.client("stepfunctions").send_task_success(
                taskToken=event["token"], output=json.dumps({"status": "connected"})
            )

        threading.Thread(target=complete).start()
        return {"parked": True}

    quick = {"MaxAttempts": 0}  # no retry pause before the wait under test
    # 300 s scaled by 0.1: a 30 s timeout, far from anything a loaded CI runner adds to an answer sent at once
    with LocalAwsStack(
        project / "template.yaml", time_scale=0.1, handlers={"Parker": parker}, parameter_overrides=quick
    ) as stack:
        sfn = stack.client("stepfunctions")
        arn = sfn.start_execution(
            stateMachineArn=stack.state_machine_arn, name="tiny-2", input=json.dumps({"name": "bo"})
        )["executionArn"]
        output = json.loads(_wait_for_execution(stack, arn)["output"])
        assert output["answer"] == {"status": "connected"}
        assert "timeout" not in output
        assert time.monotonic() - parked_at[0] < 15.0  # well before the 30 s timeout
        states = [
            e["stateEnteredEventDetails"]["name"]
            for e in sfn.get_execution_history(executionArn=arn)["events"]
            if "stateEnteredEventDetails" in e
        ]
        assert states == ["Greet", "Fail", "Park", "Done"]


def test_invoke_runs_a_handler_like_sam_local_invoke(project: Path) -> None:
    with LocalAwsStack(project / "template.yaml") as stack:
        assert stack.invoke("Greeter", {"name": "cy"}) == {"name": "cy", "greeted_by": "Greeter"}


def test_moto_applies_the_redrive_policy_on_receive(project: Path) -> None:
    with LocalAwsStack(project / "template.yaml", visibility_timeout_s=0) as stack:
        sqs = stack.client("sqs")
        sqs.send_message(QueueUrl=stack.queue_urls["Intake"], MessageBody="poison")
        counts = []
        for _ in range(3):
            received = sqs.receive_message(
                QueueUrl=stack.queue_urls["Intake"], MaxNumberOfMessages=10, AttributeNames=["All"]
            ).get("Messages", [])
            counts.append([m["Attributes"]["ApproximateReceiveCount"] for m in received])
        assert counts == [["1"], ["2"], []]
        moved = sqs.receive_message(QueueUrl=stack.queue_urls["DeadLetters"]).get("Messages", [])
        assert [m["Body"] for m in moved] == ["poison"]


def test_moto_quirks_the_workflow_is_written_around() -> None:
    """moto 5.2.x, as architecture.md says: an unnamed execution is named "None"; history ignores paging; a
    heartbeat timeout surfaces as States.Timeout (so Catch on States.HeartbeatTimeout never matches);
    send_task_failure keeps the error name but drops the cause."""
    from moto import mock_aws

    from simulator.local_aws.stack import MOTO_CONFIG

    wait_then_pass = {
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "Seconds": 0, "Next": "P"}, "P": {"Type": "Pass", "End": True}},
    }
    with mock_aws(config=MOTO_CONFIG):
        import boto3

        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        role = "arn:aws:iam::123456789012:role/local"
        machine = sfn.create_state_machine(name="w", definition=json.dumps(wait_then_pass), roleArn=role)
        unnamed = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")["executionArn"]
        assert unnamed.rsplit(":", 1)[1] == "None"
        _wait_for_status(sfn, unnamed)
        history = sfn.get_execution_history(executionArn=unnamed, maxResults=2)
        assert len(history["events"]) > 2
        assert "nextToken" not in history

        queue = sqs.create_queue(QueueName="tokens")["QueueUrl"]
        heartbeat = sfn.create_state_machine(
            name="heartbeat",
            definition=json.dumps(_parked_on_token(queue, heartbeat_s=1, timeout_s=5)),
            roleArn=role,
        )
        timed_out = sfn.start_execution(stateMachineArn=heartbeat["stateMachineArn"], input="{}")[
            "executionArn"
        ]
        output = json.loads(_wait_for_status(sfn, timed_out)["output"])
        assert "heartbeat" not in output
        assert output["error"]["Error"] == "States.Timeout"

        # No heartbeat and a long timeout: a slow CI runner cannot time this one out before the failure is
        # sent (with the 1 s heartbeat it could, and once did).
        sqs.purge_queue(QueueUrl=queue)  # the timed-out execution's token is stale
        patient = sfn.create_state_machine(
            name="patient",
            definition=json.dumps(_parked_on_token(queue, heartbeat_s=None, timeout_s=300)),
            roleArn=role,
        )
        failed = sfn.start_execution(stateMachineArn=patient["stateMachineArn"], input="{}")["executionArn"]
        token = ""
        while not token:
            for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
                token = json.loads(message["Body"])["token"]
        sfn.send_task_failure(taskToken=token, error="CustomerDeclined", cause="the customer said no")
        output = json.loads(_wait_for_status(sfn, failed)["output"])
        assert output["error"] == {"Error": "CustomerDeclined", "Cause": None}


def _parked_on_token(queue_url: str, *, heartbeat_s: int | None, timeout_s: int) -> dict[str, Any]:
    """A one-task machine parked on an SQS task token; a heartbeat timeout is caught apart from the rest."""
    task: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": queue_url, "MessageBody": {"token.$": "$$.Task.Token"}},
        "TimeoutSeconds": timeout_s,
        "Catch": [
            {"ErrorEquals": ["States.HeartbeatTimeout"], "ResultPath": "$.heartbeat", "Next": "P"},
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "P"},
        ],
        "End": True,
    }
    if heartbeat_s is not None:
        task["HeartbeatSeconds"] = heartbeat_s
    return {"StartAt": "T", "States": {"T": task, "P": {"Type": "Pass", "End": True}}}


def _wait_for_status(sfn: Any, arn: str, timeout_s: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.02)  # polling an in-process interpreter thread, not waiting for simulated time
    raise AssertionError(f"execution {arn} still running after {timeout_s}s")
