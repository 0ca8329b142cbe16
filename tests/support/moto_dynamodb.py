"""moto 5.2's DynamoDB answers requests from several threads without isolating them: TransactWriteItems checks
every condition, then writes (and on a failed condition restores a deep copy of the whole table), with no
lock, so two threads' conditional transactions on one item can both pass their checks, and a restore can undo
another thread's write. AWS applies each request atomically (docs/moto-stepfunctions.md). The bridge makes
each DynamoDB request of moto's backend run alone, as one request does on AWS; the requests themselves, their
conditions and their outcomes stay moto's."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

REQUESTS = ("transact_write_items", "transact_get_items", "put_item", "update_item", "delete_item",
            "batch_write_item", "batch_get_item", "get_item", "query", "scan")


@contextmanager
def atomic_requests() -> Iterator[None]:
    """Inside the block, each DynamoDB request to moto runs to its end before another thread's starts."""
    from moto.dynamodb.models import DynamoDBBackend

    one_at_a_time = threading.RLock()  # re-entrant: a batch write makes its puts through put_item

    def alone(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def request(*args: Any, **kwargs: Any) -> Any:
            with one_at_a_time:
                return method(*args, **kwargs)

        return request

    with ExitStack() as patches:
        for name in REQUESTS:
            patches.enter_context(mock.patch.object(DynamoDBBackend, name, alone(getattr(DynamoDBBackend, name))))
        yield
