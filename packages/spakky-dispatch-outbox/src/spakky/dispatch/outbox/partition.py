"""Partition keys: tasks of one key are sent in the order they were dispatched.

Example::

    with outbox_partition(f"order-{order.id}"):
        mail.send_confirmation(order.id)
        billing.charge(order.id)
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_PARTITION: ContextVar[str | None] = ContextVar(
    "spakky.dispatch.outbox.partition", default=None
)


@contextmanager
def outbox_partition(key: str) -> Iterator[str]:
    """Give every task dispatched in the block the partition key ``key``.

    The relay sends the tasks of one key in dispatch order and never sends one
    before an earlier one of its key that the broker refused (it waits for its
    retries or its abandonment). Tasks without a key carry no order.
    """
    token = _PARTITION.set(key)
    try:
        yield key
    finally:
        _PARTITION.reset(token)


def current_partition() -> str | None:
    """The partition key active in this context, if any."""
    return _PARTITION.get()
