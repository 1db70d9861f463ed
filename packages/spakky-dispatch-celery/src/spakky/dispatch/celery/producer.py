"""``TaskPublisher``: Celery ``send_task`` on long-lived producers.

``Celery.send_task`` acquires a producer from the pool on every call.
``TaskPublisher`` keeps one producer per thread (and per process, so a forked
worker never shares a parent's socket) and hands it to ``send_task``, which is
public Celery API. Two fast paths, each in its own module, guarded by a check
of the installed library and compared with the public path in tests, stand in
when they fit:

- ``fast_publish``: ``send_task``'s steps without its per-call overhead, for
  calls without a countdown, an eta or an expiry, on an app whose class does
  not override ``send_task`` (a hook for tenant routing or extra headers);
- ``redis_transport``: on a plain ``redis://`` broker, a kombu channel that
  reuses one Redis client instead of building one per message.

``app.conf.spakky_fast_publish = False`` (``SPAKKY_CELERY__FAST_PUBLISH=false``)
turns both off.
"""

import os
import threading
from contextlib import suppress
from typing import Any

from celery import Celery
from celery.result import AsyncResult
from kombu import Producer

from spakky.dispatch.celery.fast_publish import (
    FAST_PUBLISH_KEY,
    FastPublisher,
    fast_publish_for,
)


class TaskPublisher:
    """Publishes task messages of one Celery app on long-lived producers."""

    _app: Celery
    _local: threading.local
    _fast: FastPublisher | None
    _transport: type[Any] | None

    def __init__(self, app: Celery) -> None:
        self._app = app
        self._local = threading.local()
        self._fast = fast_publish_for(app)
        self._transport = _publish_transport(app)

    @property
    def fast(self) -> bool:
        """Whether calls may take the fast path instead of ``send_task``."""
        return self._fast is not None

    @property
    def transport(self) -> type[Any] | None:
        """The kombu transport class of this publisher's connections (None: kombu's)."""
        return self._transport

    def publish(
        self,
        name: str,
        args: tuple[object, ...],
        kwargs: dict[str, object],
        headers: dict[str, str] | None,
        task_id: str | None,
        options: dict[str, Any],
    ) -> AsyncResult[Any]:
        """Publish one task message and return its result handle.

        ``options`` are ``send_task`` options (routing, limits, ``retry_policy``,
        publish timeouts). A failed publish drops this thread's producer, so the
        next call starts on a fresh connection.
        """
        producer = self._producer()
        try:
            if self._fast is not None:
                result = self._fast.publish(
                    producer, name, args, kwargs, headers, task_id, options
                )
                if result is not None:
                    return result
            return self._app.send_task(
                name,
                args=args,
                kwargs=kwargs,
                headers=headers,
                task_id=task_id,
                producer=producer,
                **options,
            )
        except BaseException:
            self.reset()
            raise

    def reset(self) -> None:
        """Release this thread's producer and its connection."""
        producer: Producer | None = getattr(self._local, "producer", None)
        self._local.producer = None
        if producer is not None:
            connection: Any = producer.connection
            with suppress(Exception):  # a broken connection is dropped anyway
                connection.release()

    def _producer(self) -> Producer:
        local = self._local
        producer: Producer | None = getattr(local, "producer", None)
        pid = os.getpid()
        if producer is None or local.pid != pid:
            connection = self._app.connection_for_write(transport=self._transport)
            producer = self._app.amqp.Producer(connection)
            local.producer, local.pid = producer, pid
        return producer


def _publish_transport(app: Celery) -> type[Any] | None:
    """The client-reusing Redis transport for a plain ``redis://`` broker, or None.

    None (kombu's own transport) for TLS, other brokers, a list mixing
    schemes, a transport the app names itself, the fast paths turned off, and
    a kombu that ``redis_transport``'s check refuses.
    """
    conf = app.conf
    url = conf.broker_write_url or conf.broker_url
    if (
        not conf.get(FAST_PUBLISH_KEY, True)
        or conf.broker_transport
        or not isinstance(url, str)
    ):
        return None
    schemes = {u.strip().partition("://")[0] for u in url.split(";") if u.strip()}
    if schemes != {"redis"}:
        return None
    # Imported here: it loads redis-py, which other brokers never need.
    from spakky.dispatch.celery.redis_transport import reusing_transport

    return reusing_transport()
