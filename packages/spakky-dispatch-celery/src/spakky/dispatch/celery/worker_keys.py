"""Names the worker-side modules share with the caller side, without their imports.

``consumer`` (``GuardedConsumer``) subclasses Celery's worker consumer, which
loads ``celery.worker.*`` (consumer, state, request, control, ``shelve``): a
process that only dispatches never needs those. ``app`` and ``endpoint`` set
these keys and name the consumer by its dotted path, so Celery imports the
consumer only when a worker starts.
"""

GUARDED_CONSUMER = "spakky.dispatch.celery.consumer:GuardedConsumer"
"""Value of Celery's ``worker_consumer`` setting that selects ``GuardedConsumer``."""

CELERY_CONSUMER = "celery.worker.consumer:Consumer"
"""Celery's default ``worker_consumer``."""

REDELIVERIES_HEADER = "x-spakky-redeliveries"
"""How often a message was handed back to its queue unfinished (counted by us)."""

REFUSED_HEADER = "x-spakky-refused"
"""Set by our RabbitMQ transport on a message whose own headers cannot be parsed."""

DEFAULT_DEAD_LETTER_LIMIT = 10_000
"""Redis: newest refused messages a queue's dead-letter list keeps."""

MAX_MESSAGE_BYTES_KEY = "spakky_max_message_bytes"
"""``app.conf`` key: largest inflated body of a compressed message."""

MAX_REDELIVERIES_KEY = "spakky_max_redeliveries"
"""``app.conf`` key: times a message may come back before it is rejected."""

DEAD_LETTER_LIMIT_KEY = "spakky_dead_letter_limit"
"""``app.conf`` key: Redis dead-letter list length (0: drop refused messages)."""

DEFAULT_MAX_REDELIVERIES = 5
"""Default of ``MAX_REDELIVERIES_KEY``."""

__all__ = [
    "CELERY_CONSUMER",
    "DEAD_LETTER_LIMIT_KEY",
    "DEFAULT_DEAD_LETTER_LIMIT",
    "DEFAULT_MAX_REDELIVERIES",
    "GUARDED_CONSUMER",
    "MAX_MESSAGE_BYTES_KEY",
    "MAX_REDELIVERIES_KEY",
    "REDELIVERIES_HEADER",
    "REFUSED_HEADER",
]
