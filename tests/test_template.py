"""The SAM template: cfn-lint clean, least-privilege policy templates, the contract the local runner uses."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from email2chat import observability
from email2chat.config import Settings

from simulator.local_aws.cfn_template import load_cfn_yaml

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
SAM_POLICY_TEMPLATES = {
    "DynamoDBCrudPolicy",
    "SQSSendMessagePolicy",
    "StepFunctionsExecutionPolicy",
    "StepFunctionsCallbackPolicy",
    "AWSSecretsManagerGetSecretValuePolicy",
    "LambdaInvokePolicy",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_cfn_yaml(TEMPLATE.read_text())


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def test_cfn_lint_passes() -> None:
    cfn_lint = shutil.which("cfn-lint", path=str(Path(sys.executable).parent)) or shutil.which("cfn-lint")
    if cfn_lint is None:
        pytest.skip("cfn-lint is not installed")
    result = subprocess.run([cfn_lint, str(TEMPLATE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_function_has_a_thin_handler_and_the_layer(template: dict[str, Any]) -> None:
    functions = _resources(template, "AWS::Serverless::Function")
    assert len(functions) == 13
    assert template["Globals"]["Function"]["Handler"] == "app.handler"
    assert template["Globals"]["Function"]["Layers"] == [{"Ref": "CommonLayer"}]
    for name, resource in functions.items():
        code_uri = resource["Properties"]["CodeUri"]
        assert re.fullmatch(r"functions/\w+/", code_uri), name
        app = ROOT / code_uri / "app.py"
        assert "def handler(event" in app.read_text(), name
        assert (ROOT / code_uri / "requirements.txt").exists(), name
    layer = template["Resources"]["CommonLayer"]
    assert layer["Properties"]["ContentUri"] == "layers/common/"
    assert layer["Metadata"]["BuildMethod"] == "python3.12"


def test_environment_variables_are_settings_fields(template: dict[str, Any]) -> None:
    fields = {name.upper() for name in Settings.model_fields}
    names = set(template["Globals"]["Function"]["Environment"]["Variables"])
    for resource in _resources(template, "AWS::Serverless::Function").values():
        names |= set(resource["Properties"].get("Environment", {}).get("Variables", {}))
    names -= {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL"}
    assert names <= fields, names - fields
    assert {"STATE_TABLE_NAME", "INTAKE_QUEUE_URL", "DEAD_LETTER_QUEUE_URL", "GENESYS_SECRET_ARN"} <= names


def test_only_policy_templates(template: dict[str, Any]) -> None:
    for kind in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
        for name, resource in _resources(template, kind).items():
            for policy in resource["Properties"].get("Policies", []):
                assert isinstance(policy, dict), name
                assert len(policy) == 1, name
                assert next(iter(policy)) in SAM_POLICY_TEMPLATES, (name, policy)


def test_definition_substitutions_are_generic_references(template: dict[str, Any]) -> None:
    machine = template["Resources"]["UpgradeStateMachine"]["Properties"]
    assert machine["DefinitionUri"] == "statemachine/upgrade.asl.json"
    assert machine["Type"] == "STANDARD"
    substitutions = machine["DefinitionSubstitutions"]
    for key, value in substitutions.items():
        ((kind, target),) = value.items()
        if kind == "Fn::GetAtt":
            assert target[1] == "Arn", key
            assert target[0] in template["Resources"], key
        else:
            assert kind == "Ref", key
            assert target in template["Parameters"] or target in template["Resources"], key
    used = set(re.findall(r"\$\{(\w+)\}", (ROOT / machine["DefinitionUri"]).read_text()))
    assert used == set(substitutions)


def test_timings_and_thresholds_are_parameters_with_production_defaults(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    expected = {
        "AwaitAnswerTimeoutSeconds": 300,
        "RetryIntervalSeconds": 10,
        "RateLimitMaxAttempts": 3,
        "WaitTriggerMinutes": 15,
        "UrgentThreshold": 0.85,
        "CooldownHours": 24,
        "LimiterBaseRate": 1,
        "LimiterMaxRate": 10,
        "AssignmentLatencyAlarmMilliseconds": 15000,
    }
    for name, default in expected.items():
        assert float(params[name]["Default"]) == default, name


def test_intake_queue_has_a_dlq_and_a_visibility_timeout_sized_to_the_function(
    template: dict[str, Any],
) -> None:
    resources = template["Resources"]
    queue = resources["IntakeQueue"]["Properties"]
    intake = resources["IntakeFunction"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * intake["Timeout"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["IntakeDeadLetterQueue", "Arn"]}
    event = intake["Events"]["IntakeMessages"]["Properties"]
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_functions_invoked_by_eventbridge_send_what_keeps_failing_to_a_dlq(template: dict[str, Any]) -> None:
    """EventBridge's own retry policy covers delivery only: a function that raises is retried twice by
    Lambda, and then its event must land somewhere an operator sees it."""
    invoked = {
        name: resource["Properties"]
        for name, resource in _resources(template, "AWS::Serverless::Function").items()
        if any(e["Type"] == "EventBridgeRule" for e in resource["Properties"].get("Events", {}).values())
    }

    assert set(invoked) == {"StatusEventsFunction", "ExecutionEndedFunction"}
    for name, properties in invoked.items():
        on_failure = properties["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
        assert on_failure["Type"] == "SQS", name
        assert on_failure["Destination"]["Fn::GetAtt"][0] in template["Resources"], name


def test_state_table_shape_and_ttl(template: dict[str, Any]) -> None:
    table = template["Resources"]["StateTable"]["Properties"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_alarms_watch_the_metrics_we_emit(template: dict[str, Any]) -> None:
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    ours = {
        a["Properties"]["MetricName"] for a in alarms.values() if a["Properties"]["Namespace"] == "email2chat"
    }
    assert ours == {observability.AGENT_ASSIGNMENT_LATENCY, observability.BREAKER_TRANSITION}
    assert observability.NAMESPACE == "email2chat"
    dlq = [a for a in alarms.values() if a["Properties"]["Namespace"] == "AWS/SQS"]
    assert dlq
    assert dlq[0]["Properties"]["Dimensions"][0]["Value"] == {
        "Fn::GetAtt": ["IntakeDeadLetterQueue", "QueueName"]
    }


def test_genesys_credentials_live_in_secrets_manager(template: dict[str, Any]) -> None:
    assert template["Resources"]["GenesysCredentials"]["Type"] == "AWS::SecretsManager::Secret"
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["GENESYS_SECRET_ARN"] == {"Ref": "GenesysCredentials"}
    assert "GENESYS_CLIENT_SECRET" not in json.dumps(template)


def test_the_customer_key_salt_is_a_no_echo_parameter(template: dict[str, Any]) -> None:
    salt = template["Parameters"]["CustomerKeySalt"]
    assert salt["NoEcho"] is True
    assert salt["Default"] == Settings().customer_key_salt  # the default keeps existing cooldown keys
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["CUSTOMER_KEY_SALT"] == {"Ref": "CustomerKeySalt"}
