"""``TaskPublisher``: Celery ``send_task`` without its per-call overhead.

``Celery.send_task`` spends most of its time above kombu's publish: it acquires
a producer from the pool, routes the task, looks up its execution options,
renders ``argsrepr`` with the pure-Python ``saferepr`` and has kombu re-check
the queue declaration on every call. ``TaskPublisher`` keeps one producer per
thread (and per process, so a forked worker never shares a parent's socket;
on a plain ``redis://`` broker its channel reuses one Redis client, see
``redis_transport``),
resolves routes once per task name when every route is a static mapping, and
only lets kombu declare a queue its connection has not declared yet. It builds
and sends the message with Celery's own ``amqp.create_task_message`` and
``amqp.send_task_message``, so messages stay standard protocol-2 messages and
``before_task_publish`` / ``after_task_publish`` still fire. Calls with a
countdown, an eta or an expiry take ``send_task`` itself (on the long-lived
producer), which owns the delayed-delivery and expiration rules. So does every
call when the application's ``Celery`` class overrides ``send_task`` (a hook for
tenant routing or extra headers): the fast path only stands in for a stock one.
"""

import os
import threading
from contextlib import suppress
from typing import Any, cast

from celery import Celery
from celery.app.routes import MapRoute
from celery.result import AsyncResult
from celery.utils.nodenames import anon_nodename
from celery.utils.saferepr import saferepr
from kombu import Producer, Queue
from kombu.utils.uuid import uuid

_SLOW_PATH = frozenset({"countdown", "eta", "expires"})
"""Options whose rules only ``send_task`` applies (delayed delivery, expiry)."""

type _RouteKey = tuple[str, tuple[tuple[str, object], ...]]


class TaskPublisher:
    """Publishes task messages of one Celery app on long-lived producers."""

    _app: Celery
    _local: threading.local
    _routes: dict[_RouteKey, dict[str, Any]]
    _origin: tuple[int, str] | None
    _fast: bool

    def __init__(self, app: Celery) -> None:
        self._app = app
        self._local = threading.local()
        self._routes = {}
        self._origin = None
        self._fast = stock_send_task(app)

    @property
    def fast(self) -> bool:
        """Whether calls may bypass ``send_task`` (the app's is Celery's own)."""
        return self._fast

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
            if self._fast and _SLOW_PATH.isdisjoint(options):
                return self._publish(
                    producer, name, args, kwargs, headers, task_id, options
                )
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

    def _publish(
        self,
        producer: Producer,
        name: str,
        args: tuple[object, ...],
        kwargs: dict[str, object],
        headers: dict[str, str] | None,
        task_id: str | None,
        options: dict[str, Any],
    ) -> AsyncResult[Any]:
        app = self._app
        amqp = app.amqp
        task_id = task_id or uuid()
        options = dict(options)
        publish = {
            "retry_policy": options.pop("retry_policy", None),
            "timeout": options.pop("timeout", None),
            "confirm_timeout": options.pop("confirm_timeout", None),
        }
        route = self._route(name, options, args, kwargs)
        time_limit = route.pop("time_limit", None)
        soft_time_limit = route.pop("soft_time_limit", None)
        ignore_result = route.pop("ignore_result", None)
        if route.get("expires") is not None:  # a task-level expiry: send_task's rules
            return self._app.send_task(
                name,
                args=args,
                kwargs=kwargs,
                headers=headers,
                task_id=task_id,
                producer=producer,
                **options,
                **publish,
            )
        route.pop("expires", None)
        root_id = parent_id = None
        parent = app.current_worker_task
        if parent:
            request = parent.request
            root_id = request.root_id or request.id
            parent_id = request.id
            if app.conf.task_inherit_parent_priority:
                route.setdefault(
                    "priority", (request.delivery_info or {}).get("priority")
                )
        maxlevels = app.conf.task_repr_maxlevels
        message = amqp.create_task_message(
            task_id,
            name,
            args,
            kwargs,
            reply_to=app.thread_oid,
            time_limit=time_limit,
            soft_time_limit=soft_time_limit,
            create_sent_event=app.conf.task_send_sent_event,
            root_id=root_id,
            parent_id=parent_id,
            ignore_result=ignore_result,
            argsrepr=_repr(args, amqp.argsrepr_maxsize, maxlevels),
            kwargsrepr=_repr(kwargs, amqp.kwargsrepr_maxsize, maxlevels),
            origin=self._origin_name(),
            **route,
        )
        if not ignore_result:
            app.backend.on_task_call(producer, task_id)
        amqp.send_task_message(
            producer,
            name,
            message,
            headers=headers,
            declare=_declare(producer, route.get("queue")),
            **publish,
            **route,
        )
        result: AsyncResult[Any] = app.AsyncResult(task_id)
        result.ignored = ignore_result
        if parent:
            parent.add_trail(result)
        return result

    def _producer(self) -> Producer:
        local = self._local
        producer: Producer | None = getattr(local, "producer", None)
        pid = os.getpid()
        if producer is None or local.pid != pid:
            connection = self._app.connection_for_write(**self._connection_options())
            producer = self._app.amqp.Producer(connection)
            local.producer, local.pid = producer, pid
        return producer

    def _connection_options(self) -> dict[str, Any]:
        """Our Redis transport for plain ``redis://`` brokers, unless one is set."""
        conf = self._app.conf
        url = conf.broker_write_url or conf.broker_url
        if conf.broker_transport or not isinstance(url, str):
            return {}
        schemes = {u.strip().partition("://")[0] for u in url.split(";") if u.strip()}
        if schemes != {"redis"}:
            return {}
        # Imported here: it loads redis-py, which other brokers never need.
        from spakky.dispatch.celery.redis_transport import ClientReusingTransport

        return {"transport": ClientReusingTransport}

    def _route(
        self,
        name: str,
        options: dict[str, Any],
        args: tuple[object, ...],
        kwargs: dict[str, object],
    ) -> dict[str, Any]:
        """Celery's routing of ``send_task``, resolved once per name and options."""
        router: Any = self._app.amqp.router
        if not all(isinstance(route, MapRoute) for route in router.routes):
            return dict(
                router.route(self._exec_options(name, options), name, args, kwargs)
            )
        key: _RouteKey = (name, tuple(sorted(options.items())))
        cached = self._routes.get(key)
        if cached is None:
            cached = router.route(self._exec_options(name, options), name, args, kwargs)
            self._routes[key] = cached
        return dict(cached)

    def _exec_options(self, name: str, options: dict[str, Any]) -> dict[str, Any]:
        """The task's own execution options under the call's, as ``send_task`` merges them."""
        app: Any = self._app
        task_type = app.tasks.get(name) if app.finalized else None
        if task_type is None:
            return dict(options)
        own = {
            key: value
            for key, value in task_type._get_exec_options().items()
            if value is not None
        }
        return {**own, **options}

    def _origin_name(self) -> str:
        pid = os.getpid()
        origin = self._origin
        if origin is None or origin[0] != pid:
            origin = self._origin = (pid, anon_nodename())
        return origin[1]


def stock_send_task(app: Celery) -> bool:
    """Whether ``app``'s class uses Celery's own ``send_task`` (not an override)."""
    return getattr(type(app), "send_task", None) is Celery.send_task


def _declare(producer: Producer, queue: object) -> list[Queue] | None:
    """No declaration when the connection declared ``queue`` already.

    kombu's own check (``maybe_declare``) binds a copy of the queue on every
    publish before looking at the same ``declared_entities`` cache.
    """
    if (
        isinstance(queue, Queue)
        and queue.can_cache_declaration
        and hash(queue) in cast(Any, producer.connection).declared_entities
    ):
        return []
    return None


def _repr(value: object, maxsize: int, maxlevels: int) -> str:
    """``argsrepr``: the builtin ``repr`` cut to ``maxsize``, ``saferepr`` as fallback."""
    try:
        text = repr(value)
    except Exception:
        return saferepr(value, maxsize, maxlevels=maxlevels)
    if len(text) <= maxsize:
        return text
    return text[: maxsize - 3] + "..."
