"""Run Lambda invocations in this process: moto's ``LambdaSimpleBackend.invoke`` is the seam.

With ``{"lambda": {"use_docker": False}}`` moto answers every invoke with a canned string. The local stack
replaces that method so each invoke calls the real ``handler(event, context)`` of the function, found by
the function's name. A handler exception becomes the Lambda error envelope (``x-amz-function-error`` plus
``{"errorType", "errorMessage"}``), which moto's ASL interpreter turns into an ASL error named
``errorType`` - exactly what Retry/Catch match in AWS.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

Handler = Callable[[Any, Any], Any]
LOG = logging.getLogger(__name__)


@dataclass
class LambdaContext:
    """The attributes of the AWS Lambda context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 256
    timeout_s: int = 30
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class Invocation:
    function: str
    started: float
    duration_s: float
    error_type: str | None


def load_handler(code_dir: Path, module: str = "app", function: str = "handler") -> Handler:
    """Import ``<code_dir>/<module>.py`` under a unique module name (every function's file is ``app.py``)."""
    path = code_dir / f"{module}.py"
    unique = f"email2chat_local_fn_{code_dir.name}_{module}"
    loaded: ModuleType | None = sys.modules.get(unique)
    if loaded is None:
        spec = importlib.util.spec_from_file_location(unique, path)
        if spec is None or spec.loader is None:
            raise FileNotFoundError(f"cannot import handler module {path}")
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[unique] = loaded
        try:
            spec.loader.exec_module(loaded)
        except BaseException:
            sys.modules.pop(unique, None)
            raise
    handler = getattr(loaded, function)
    if not callable(handler):
        raise TypeError(f"{path}:{function} is not callable")
    return handler  # type: ignore[no-any-return]


class InProcessLambdas:
    """Function name -> handler registry, installed over moto's simple Lambda backend."""

    def __init__(self) -> None:
        self._handlers: dict[str, tuple[Handler, int]] = {}
        self._lock = threading.Lock()
        self.invocations: list[Invocation] = []
        # function name -> the events it received, kept only when asked (sample events for events/)
        self.record_payloads = False
        self.payloads: dict[str, list[Any]] = {}

    def register(self, function_name: str, handler: Handler, *, timeout_s: int = 30) -> None:
        self._handlers[function_name] = (handler, timeout_s)

    def invoke(self, function_name: str, arn: str, payload: Any) -> tuple[Any, str | None]:
        """Call the handler; returns (result or error envelope, error type or None)."""
        handler, timeout_s = self._handlers[function_name]
        if self.record_payloads:
            with self._lock:
                self.payloads.setdefault(function_name, []).append(json.loads(json.dumps(payload)))
        context = LambdaContext(function_name=function_name, invoked_function_arn=arn, timeout_s=timeout_s)
        started = time.monotonic()
        error_type: str | None = None
        try:
            result: Any = handler(payload, context)
        except Exception as exc:  # every handler failure must reach the ASL as a named error
            error_type = type(exc).__name__
            result = {"errorType": error_type, "errorMessage": str(exc)}
            LOG.debug("handler %s raised %s", function_name, error_type)
        with self._lock:
            self.invocations.append(
                Invocation(function_name, started, time.monotonic() - started, error_type)
            )
        return result, error_type

    @contextmanager
    def installed(self) -> Iterator[InProcessLambdas]:
        """Patch ``LambdaSimpleBackend.invoke`` for the duration of the block."""
        original = LambdaSimpleBackend.invoke
        registry = self

        def invoke(
            backend: LambdaSimpleBackend,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: Any,
        ) -> bytes:
            fn = backend.get_function(function_name, qualifier)
            if fn.function_name not in registry._handlers:
                return original(backend, function_name, qualifier, body, headers, response_headers)  # type: ignore[return-value]
            payload = json.loads(body) if body else {}
            result, error_type = registry.invoke(fn.function_name, fn.function_arn, payload)
            if error_type is not None:
                response_headers["x-amz-function-error"] = "Unhandled"
            encoded = json.dumps(result, default=str).encode("utf-8")
            response_headers["Content-Length"] = str(len(encoded))
            return encoded

        # moto's ASL interpreter builds a new boto3 Lambda client for every Task (botocore reloads the
        # service model from disk each time): ~70% of a local run's CPU. One client per region is enough.
        original_client_for = lambda_eval_utils.boto_client_for
        clients: dict[tuple[str, str], Any] = {}
        clients_lock = threading.Lock()

        def cached_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
            with clients_lock:
                if (region, service) not in clients:
                    clients[(region, service)] = original_client_for(region, service, state_credentials)
                return clients[(region, service)]

        LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign,assignment]
        lambda_eval_utils.boto_client_for = cached_client_for
        try:
            yield self
        finally:
            LambdaSimpleBackend.invoke = original  # type: ignore[method-assign]
            lambda_eval_utils.boto_client_for = original_client_for
