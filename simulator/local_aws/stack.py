"""The SAM stack rebuilt in moto: queues, table, functions and the real state machine, in this process.

``LocalAwsStack`` reads ``template.yaml``, starts ``mock_aws`` with moto's ASL interpreter on, creates every
queue (DLQs and redrive policies included), table and function the template declares, resolves the state
machine's ``DefinitionSubstitutions`` (ARNs, queue URLs, timings) and creates it from the ASL file
as deployed.

Time: ASL Wait states and Retry intervals really sleep in moto, so every ``*Seconds`` parameter used by the
definition is scaled to real seconds: ``max(1, ceil(value * time_scale))`` (ASL needs positive integers).
Function environments keep the production values: handlers read time from the scaled clock instead.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from moto import mock_aws
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

from simulator.local_aws.cfn_template import SamTemplate, StateMachineSpec, TemplateError, resolve_intrinsic
from simulator.local_aws.lambda_dispatch import Handler, InProcessLambdas, load_handler
from simulator.local_aws.moto_patches import moto_patched

ACCOUNT_ID = "123456789012"
STACK_NAME = "email2chat-local"
MOTO_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
_SUBSTITUTION = re.compile(r"\$\{([A-Za-z0-9_.:]+)\}")


def scale_seconds(value: float, time_scale: float) -> int:
    """Clock seconds -> the positive integer of real seconds an ASL field needs."""
    return max(1, math.ceil(float(value) * time_scale - 1e-9))


def _placeholder_zip() -> bytes:
    # moto wants code to create a function; the code that runs is the real handler, dispatched in-process.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


class LocalAwsStack:
    """Context manager: ``with LocalAwsStack("template.yaml", time_scale=0.01) as stack: ...``.

    Parameters
    ----------
    template_path:
        The SAM template; CodeUri and DefinitionUri resolve relative to it.
    time_scale:
        Real seconds per simulated second, applied to the ``*Seconds`` parameters the ASL uses.
    parameter_overrides:
        Parameter values in REAL units for the definition (they win over scaling),
        e.g. ``{"AwaitAnswerTimeoutSeconds": 2}``.
    handlers:
        Replace the handler of a function (logical id -> callable); the rest load from ``<CodeUri>/app.py``.
    visibility_timeout_s:
        Real visibility timeout of every queue (default: the template's, scaled).
    """

    def __init__(
        self,
        template_path: str | Path,
        *,
        time_scale: float = 1.0,
        parameter_overrides: Mapping[str, Any] | None = None,
        handlers: Mapping[str, Handler] | None = None,
        visibility_timeout_s: int | None = None,
        region: str = "us-east-1",
    ) -> None:
        self.template = SamTemplate.load(template_path)
        self.time_scale = time_scale
        self.region = region
        self.parameter_overrides = dict(parameter_overrides or {})
        self.handler_overrides = dict(handlers or {})
        self.visibility_timeout_s = visibility_timeout_s
        self.lambdas = InProcessLambdas()
        self.session = boto3.Session(
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106
        )
        self.queue_urls: dict[str, str] = {}
        self.queue_arns: dict[str, str] = {}
        self.table_names: dict[str, str] = {}
        self.function_arns: dict[str, str] = {}
        self.state_machine_arn = ""
        self.definition: dict[str, Any] = {}
        self.definition_parameters: dict[str, Any] = {}
        self._mock: Any = None
        self._patches: contextlib.ExitStack | None = None
        self._clients: dict[str, Any] = {}

    # --- lifecycle ---------------------------------------------------------------------------------

    def __enter__(self) -> LocalAwsStack:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        self._mock = mock_aws(config=MOTO_CONFIG)
        self._mock.start()
        self._patches = contextlib.ExitStack()
        self._patches.enter_context(self.lambdas.installed())
        self._patches.enter_context(moto_patched())
        # the interpreter's (cached) Lambda client, built now rather than by the first Task under load
        lambda_eval_utils.boto_client_for(self.region, "lambda")
        try:
            self._create_queues()
            self._create_tables()
            self._create_functions()
            self._create_state_machine()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self._patches is not None:
            self._patches.close()
            self._patches = None
        if self._mock is not None:
            self._mock.stop()
            self._mock = None

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service)
        return self._clients[service]

    # --- resolution --------------------------------------------------------------------------------

    def _pseudo(self, name: str) -> str | None:
        return {
            "AWS::StackName": STACK_NAME,
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": "",
        }.get(name)

    def _lookup(self, *, strict: bool, timings: str) -> Any:
        """A resolver for ``!Ref``/``!GetAtt``: timings="real" scales ``*Seconds`` parameters."""

        def lookup(name: str, attr: str | None) -> Any:
            pseudo = self._pseudo(name)
            if pseudo is not None:
                return pseudo
            if name in self.template.parameters and attr is None:
                if timings == "real":
                    return self.real_parameter(name)
                return self.template.parameters[name]
            if name in self.queue_urls:
                return self.queue_arns[name] if attr == "Arn" else self.queue_urls[name]
            if name in self.table_names:
                if attr == "Arn":
                    return f"arn:aws:dynamodb:{self.region}:{ACCOUNT_ID}:table/{self.table_names[name]}"
                return self.table_names[name]
            if name in self.function_arns:
                return self.function_arns[name] if attr == "Arn" else name
            if name in self.template.state_machines and self.state_machine_arn:
                return self.state_machine_arn if attr in (None, "Arn") else name
            if strict:
                raise TemplateError(f"cannot resolve {name}{'.' + attr if attr else ''} locally")
            return f"local:{name}" + (f".{attr}" if attr else "")

        return lookup

    def real_parameter(self, name: str) -> Any:
        """A parameter as the deployed definition would see it, in real units for this run."""
        if name in self.parameter_overrides:
            return self.parameter_overrides[name]
        value = self.template.parameters.get(name)
        if name.endswith("Seconds") and isinstance(value, int | float | str):
            try:
                return scale_seconds(float(value), self.time_scale)
            except ValueError:
                return value
        return value

    def function_environment(self, logical_id: str) -> dict[str, str]:
        """A function's environment variables resolved (production timings: handlers use the scaled clock)."""
        spec = self.template.functions[logical_id]
        resolved = resolve_intrinsic(dict(spec.environment), self._lookup(strict=False, timings="clock"))
        return {str(k): "" if v is None else str(v) for k, v in resolved.items()}

    def merged_environment(self) -> dict[str, str]:
        """Every function's environment in one mapping (the local runtime serves all handlers)."""
        merged: dict[str, str] = {}
        for logical_id in self.template.functions:
            merged.update(self.function_environment(logical_id))
        return merged

    def _name(self, props: Mapping[str, Any], key: str, default: str) -> str:
        raw = props.get(key)
        if raw is None:
            return default
        return str(resolve_intrinsic(raw, self._lookup(strict=False, timings="clock")))

    # --- resources ---------------------------------------------------------------------------------

    def _create_queues(self) -> None:
        sqs = self.client("sqs")
        pending = dict(self.template.queues)
        while pending:  # DLQs first: a redrive policy needs its target's ARN
            progressed = False
            for logical_id, props in list(pending.items()):
                redrive = props.get("RedrivePolicy")
                attributes: dict[str, str] = {}
                if redrive:
                    try:
                        resolved = resolve_intrinsic(redrive, self._lookup(strict=True, timings="clock"))
                    except TemplateError:
                        continue
                    attributes["RedrivePolicy"] = json.dumps(resolved)
                for key in ("MessageRetentionPeriod", "MaximumMessageSize", "ReceiveMessageWaitTimeSeconds"):
                    if key in props:
                        attributes[key] = str(props[key])
                visibility = props.get("VisibilityTimeout", 30)
                if self.visibility_timeout_s is not None:
                    attributes["VisibilityTimeout"] = str(self.visibility_timeout_s)
                else:
                    attributes["VisibilityTimeout"] = str(scale_seconds(float(visibility), self.time_scale))
                if "DelaySeconds" in props:
                    attributes["DelaySeconds"] = str(
                        scale_seconds(float(props["DelaySeconds"]), self.time_scale)
                    )
                name = self._name(props, "QueueName", f"{STACK_NAME}-{logical_id}")
                url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
                self.queue_urls[logical_id] = url
                self.queue_arns[logical_id] = sqs.get_queue_attributes(
                    QueueUrl=url, AttributeNames=["QueueArn"]
                )["Attributes"]["QueueArn"]
                del pending[logical_id]
                progressed = True
            if not progressed:
                raise TemplateError(f"queues with unresolvable redrive targets: {sorted(pending)}")

    def _create_tables(self) -> None:
        dynamodb = self.client("dynamodb")
        for logical_id, props in self.template.tables.items():
            name = self._name(props, "TableName", f"{STACK_NAME}-{logical_id}")
            kwargs: dict[str, Any] = {
                "TableName": name,
                "KeySchema": props["KeySchema"],
                "AttributeDefinitions": props["AttributeDefinitions"],
                "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
            }
            if kwargs["BillingMode"] == "PROVISIONED":
                kwargs["ProvisionedThroughput"] = props.get(
                    "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
                )
            for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
                if key in props:
                    kwargs[key] = props[key]
            dynamodb.create_table(**kwargs)
            ttl = props.get("TimeToLiveSpecification")
            if ttl and ttl.get("Enabled") in (True, "true", "True"):
                dynamodb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
                )
            self.table_names[logical_id] = name

    def _create_functions(self) -> None:
        iam = self.client("iam")
        role = iam.create_role(
            RoleName=f"{STACK_NAME}-lambda",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        lambda_client = self.client("lambda")
        code = _placeholder_zip()
        for logical_id, spec in self.template.functions.items():
            arn = lambda_client.create_function(
                FunctionName=logical_id,
                Runtime="python3.12",
                Role=role,
                Handler=spec.handler,
                Code={"ZipFile": code},
                Timeout=spec.timeout_s or 30,
            )["FunctionArn"]
            self.function_arns[logical_id] = arn
            handler = self.handler_overrides.get(logical_id)
            if handler is None:
                handler = load_handler(
                    self.template.root / spec.code_uri, spec.handler_module, spec.handler_function
                )
            self.lambdas.register(logical_id, handler, timeout_s=spec.timeout_s or 30)

    def resolve_definition(self, spec: StateMachineSpec) -> str:
        """The ASL text with ``${...}`` DefinitionSubstitutions replaced, as SAM does at deploy time."""
        lookup = self._lookup(strict=True, timings="real")
        values = {k: resolve_intrinsic(v, lookup) for k, v in spec.substitutions.items()}
        self.definition_parameters = dict(values)
        text = self.template.read_definition(spec)

        def replace(match: re.Match[str]) -> str:
            key = match.group(1)
            if key not in values:
                raise TemplateError(f"{spec.definition_uri}: ${{{key}}} has no DefinitionSubstitution")
            return str(values[key])

        return _SUBSTITUTION.sub(replace, text)

    def _create_state_machine(self) -> None:
        if not self.template.state_machines:
            return
        spec = self.template.single_state_machine()
        text = self.resolve_definition(spec)
        self.definition = json.loads(text)
        role = f"arn:aws:iam::{ACCOUNT_ID}:role/{STACK_NAME}-states"
        self.state_machine_arn = self.client("stepfunctions").create_state_machine(
            name=spec.name if spec.name and "${" not in spec.name else f"{STACK_NAME}-{spec.logical_id}",
            definition=text,
            roleArn=role,
            type="STANDARD",
        )["stateMachineArn"]

    # --- helpers for runners and tests -------------------------------------------------------------

    def queue_for_function_event(self, function_logical_id: str) -> str:
        """The logical id of the queue that triggers a function (its SQS event source)."""
        spec = self.template.functions[function_logical_id]
        for event in spec.events.values():
            if event.get("Type") == "SQS":
                queue = (event.get("Properties") or {}).get("Queue")
                if isinstance(queue, Mapping) and "Fn::GetAtt" in queue:
                    return str(queue["Fn::GetAtt"][0])
                if isinstance(queue, Mapping) and "Ref" in queue:
                    return str(queue["Ref"])
        raise TemplateError(f"{function_logical_id} has no SQS event source")

    def queue_arn_for(self, url: str) -> str:
        for logical_id, queue_url in self.queue_urls.items():
            if queue_url == url:
                return self.queue_arns[logical_id]
        raise KeyError(url)

    def dead_letter_queue_of(self, queue_logical_id: str) -> str | None:
        redrive = self.template.queues[queue_logical_id].get("RedrivePolicy") or {}
        target = redrive.get("deadLetterTargetArn")
        if isinstance(target, Mapping) and "Fn::GetAtt" in target:
            return str(target["Fn::GetAtt"][0])
        return None

    def invoke(self, function_logical_id: str, event: Any) -> Any:
        """Invoke a function through moto's Lambda API (as ``sam local invoke`` would, without Docker)."""
        response = self.client("lambda").invoke(
            FunctionName=function_logical_id, Payload=json.dumps(event).encode("utf-8")
        )
        body = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            raise LambdaInvokeError(body.get("errorType", "Error"), body.get("errorMessage", ""))
        return body


class LambdaInvokeError(RuntimeError):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
