"""moto's in-process backends made to keep AWS's promises under threads, and cheaper to reach.

The local pipeline runs intake workers, Step Functions executions and the status-event worker as threads of
one process. moto's backends are plain Python objects without locks, so two things AWS guarantees broke:

* **DynamoDB requests are atomic.** moto mutates dicts unlocked: two conditional PutItems on one key could
  both succeed (measured: 2 double-owned locks in 100 races of 12 threads, 6 double probes in 50), and a Scan
  racing a PutItem of a new key raised ``RuntimeError: dictionary changed size during iteration`` (one CI
  run). ``dynamodb_requests_atomic`` runs each item operation of moto's DynamoDB backend (get, put, update,
  delete, query, scan, transact write; moto's batch requests call get, put and delete) under one
  process-wide lock and hands back copies of the items, so the response, built after the lock is released,
  never reads an item another request is changing.
  Request parsing and response serialisation stay outside the lock: a lock around moto's whole request
  handler held it about twice as long, and the 100-email burst took 751 simulated seconds instead of 259.
  Sequences of requests (read, then conditional write) still interleave freely: that is the race the state
  code itself must survive. No item operation calls another service, so the lock is never held across a
  Lambda handler.
* **SendTaskSuccess finds the execution that holds the token.** moto marks an execution RUNNING before its
  worker thread has built the execution's environment; SendTaskSuccess/Failure/Heartbeat walk every running
  execution and dereference that environment, so a token sent while another execution was starting raised
  ``AttributeError: 'NoneType' object has no attribute 'callback_pool_manager'`` (once per default run).
  ``starting_executions_skipped`` leaves such executions out of the walk: one without an environment cannot
  have issued a token yet.

And two costs. Every request looks up its account's backend through moto's process-wide lock and a walk
of every registered service: ``backend_lookups_unlocked`` skips both once the backend exists (19 % of the
intake threads' py-spy samples were there in a default run). And moto parses the state machine's ASL with
ANTLR for every execution (16 % of a default local run's CPU): ``definitions_parsed_once`` keeps the parsed
program per definition text. A parsed program keeps no per-execution state: its components keep attempt
counts and variables in the execution's environment (``env.heap``, ``env.stack``), except Map and Parallel
worker counts, which the cache refuses.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

from moto.core.base_backend import BackendDict
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import Item
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

_DYNAMODB_ITEM_LOCK = threading.RLock()  # transact_write_items calls get_item, put_item, ...
_PATCHED = "_email2chat_patched"
_REGISTERED: set[BackendDict[Any]] = set()  # backend dicts whose first lookup registered them with moto


@contextmanager
def _patched(owner: type, name: str, make: Any) -> Iterator[None]:
    """Replace ``owner.name`` by ``make(original)`` inside the block; nested blocks patch once."""
    original = getattr(owner, name)
    if getattr(original, _PATCHED, False):
        yield
        return
    replacement = make(original)
    setattr(replacement, _PATCHED, True)
    setattr(owner, name, replacement)
    try:
        yield
    finally:
        setattr(owner, name, original)


_ITEM_OPERATIONS = (
    "put_item",
    "get_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "transact_write_items",
)


def _detached(value: Any) -> Any:
    if isinstance(value, Item):
        return copy.deepcopy(value)
    if isinstance(value, (list, tuple)):  # query and scan: (items, scanned count, last key)
        return type(value)(_detached(v) for v in value)
    return value


def _serialised(operation: Any) -> Any:
    def operation_alone(backend: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        with _DYNAMODB_ITEM_LOCK:
            return _detached(operation(backend, *args, **kwargs))

    return operation_alone


def _without_starting(get_executions: Any) -> Any:
    def executions_with_environment(backend: StepFunctionsParserBackend, *args: Any, **kwargs: Any) -> Any:
        executions = get_executions(backend, *args, **kwargs)
        return [e for e in executions if e.exec_worker is not None and e.exec_worker.env is not None]

    return executions_with_environment


def _parsed_once(get_entrypoint: Any) -> Any:
    programs: dict[str, Any] = {}
    guard = threading.Lock()

    def cached_entrypoint(worker: ExecutionWorker) -> Any:
        definition = worker._evaluation_details.state_machine_details.definition
        if '"Map"' in definition or '"Parallel"' in definition:
            return get_entrypoint(worker)
        with guard:
            if definition not in programs:
                programs[definition] = get_entrypoint(worker)
            return programs[definition]

    return cached_entrypoint


def _lookup_unlocked(create_backend: Any) -> Any:
    def create_once(backend_dict: BackendDict[Any], account_id: str) -> None:
        if account_id in backend_dict and backend_dict in _REGISTERED:
            return  # already created and registered: nothing to do, so nothing to lock
        create_backend(backend_dict, account_id)
        _REGISTERED.add(backend_dict)

    return create_once


@contextmanager
def dynamodb_requests_atomic() -> Iterator[None]:
    """Serialise moto's DynamoDB item operations inside the block."""
    with ExitStack() as patches:
        for name in _ITEM_OPERATIONS:
            patches.enter_context(_patched(DynamoDBBackend, name, _serialised))
        yield


def starting_executions_skipped() -> AbstractContextManager[None]:
    """Task-token calls skip executions whose worker has not built its environment yet."""
    return _patched(StepFunctionsParserBackend, "_get_executions", _without_starting)


def definitions_parsed_once() -> AbstractContextManager[None]:
    """Executions of one definition share its parsed program."""
    return _patched(ExecutionWorker, "_get_evaluation_entrypoint", _parsed_once)


@contextmanager
def backend_lookups_unlocked() -> Iterator[None]:
    """Looking up an account's backend takes moto's global lock only until the backend exists."""
    _REGISTERED.clear()  # moto's reset forgets its registrations: so does each block
    with _patched(BackendDict, "_create_account_specific_backend", _lookup_unlocked):
        yield


@contextmanager
def moto_patched() -> Iterator[None]:
    with ExitStack() as patches:
        patches.enter_context(backend_lookups_unlocked())
        patches.enter_context(dynamodb_requests_atomic())
        patches.enter_context(starting_executions_skipped())
        patches.enter_context(definitions_parsed_once())
        yield
