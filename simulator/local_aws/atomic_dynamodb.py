"""Make moto's in-process DynamoDB apply one request at a time, as real DynamoDB applies each to its item.

moto's backend mutates plain dicts without a lock. Under threads (the local pipeline's intake workers,
Step Functions executions and status-event worker; the thread tests) that breaks two promises DynamoDB
keeps: a conditional write is atomic (measured without this: 2 double-owned locks in 100 races of 12
threads, 6 double probes in 50), and a Scan sees whole items (a Scan racing a PutItem of a new key raised
``RuntimeError: dictionary changed size during iteration`` in CI; racing an UpdateItem it returned a key
without its attributes). One process-wide lock around moto's DynamoDB request handler restores both, for
every client at once. Sequences of requests (read, then conditional write) still interleave freely: that is
the race the state code itself must survive. A DynamoDB request never calls back into another service, so
the lock cannot be held across a Lambda handler.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.dynamodb.responses import DynamoHandler

_REQUEST_LOCK = threading.Lock()


@contextmanager
def dynamodb_requests_atomic() -> Iterator[None]:
    """Serialise moto's DynamoDB requests inside the block (nested blocks: only the outer one patches)."""
    original = DynamoHandler.call_action
    if getattr(original, "_serialised", False):
        yield
        return

    def call_action(handler: DynamoHandler) -> Any:
        with _REQUEST_LOCK:
            return original(handler)

    call_action._serialised = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoHandler.call_action = original  # type: ignore[method-assign]
