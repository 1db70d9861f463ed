"""The publish fast path: Celery's ``send_task``, redone on Celery's internals.

This module is the one place that copies Celery's private publishing steps.
``Celery.send_task`` spends most of a call above kombu's publish: it merges the
task's execution options, routes the task, has kombu re-check the queue
declaration and wraps the producer in context managers, on every call.
``FastPublisher.publish`` takes the same steps in the same order with the same
Celery calls (``Task._get_exec_options``, ``amqp.router.route``,
``amqp.create_task_message``, ``app.thread_oid``, ``backend.on_task_call``,
``amqp.send_task_message`` inside kombu's ``_reraise_as_library_errors``), so
the message on the wire is the one ``send_task`` would send and both publish
signals fire; it only

- resolves a route once per task name and call options when every route is a
  static mapping (``MapRoute``);
- passes ``declare=[]`` when the producer's connection has declared the queue
  already (kombu would find it in the same ``declared_entities`` cache);
- writes the ``argsrepr`` / ``kwargsrepr`` headers itself when the arguments
  are a flat tuple or dict of plain values (``flat_repr``: the text Celery's
  ``saferepr`` writes for them, without its token stream); anything else
  is left to ``saferepr``.

Calls with a countdown, an eta or an expiry (also a task-level one) take
``send_task``, which owns delayed delivery and expiration.

Guard: ``fast_publish_problem`` checks once that the installed Celery is the
series this copy was compared against, that ``send_task``'s source is the one
copied (a SHA-256 of it, whitespace-normalised) and that every private name
used exists with the expected parameters, and that ``flat_repr`` writes what
``saferepr`` writes for a set of samples. When it is not, ``fast_publish_for``
logs one warning and returns None: every call then takes ``send_task``.
``tests/test_fast_publish.py`` compares the wire messages of both paths on
kombu's in-memory transport. After updating Celery, re-read ``send_task``'s
diff, run that test and update ``SEND_TASK_SHA256``.
"""

import inspect
import logging
from functools import cache
from typing import Any, Final, cast

import celery
from celery import Celery
from celery.app.routes import MapRoute, Router
from celery.app.task import Task
from celery.result import AsyncResult
from kombu import Connection, Producer, Queue
from kombu.utils.uuid import uuid

from spakky.dispatch.core.adapter import (
    FallbackWarning,
    changed_checks,
    source_digest,
    source_text,
)

logger = logging.getLogger(__name__)

FAST_PUBLISH_KEY: Final = "spakky_fast_publish"
"""``app.conf`` key: False makes every call take Celery's own ``send_task``."""

CELERY_SERIES: Final = frozenset({(5, 7)})
"""Celery ``(major, minor)`` versions this copy was compared against."""

SEND_TASK_SHA256: Final = (
    "85ed6e7a216402588636dd0bbb5d4f7458e34a8f6e7f58727399f018dc847093"
)
"""SHA-256 of ``Celery.send_task``'s source with whitespace collapsed."""

SLOW_OPTIONS: Final = frozenset({"countdown", "eta", "expires"})
"""Call options whose rules only ``send_task`` applies (delayed delivery, expiry)."""

_PUBLISH_OPTIONS: Final = ("retry_policy", "timeout", "confirm_timeout", "headers")
"""Options a static route passes through untouched (kept out of the route cache)."""

_REPR_SAMPLES: Final[tuple[object, ...]] = (
    (),
    (1,),
    (1, "abc"),
    {},
    {"k": 2},
    (True, False, None, 1.5, -7, 2**70, float("inf")),
    ("it's", 'say "hi"', "back\\slash", "line\nbreak\ttab", "é ☃ \u2028", ""),
    {"a b": "c'd", "n": None, "f": 0.1, "t": True},
    ("x" * 1000,),
)
"""Values ``flat_repr`` must write as ``saferepr`` does (checked once per process)."""

_MAX_ROUTES: Final = 1024
"""Cached routes before the cache starts over (call options are few in practice)."""

type _RouteKey = tuple[str, tuple[tuple[str, object], ...]]


def _parameters(function: object) -> list[str]:
    return list(inspect.signature(cast(Any, function)).parameters)


@cache
def fast_publish_problem() -> str | None:
    """Why the fast path does not fit the installed Celery and kombu, or None."""
    version = (celery.VERSION.major, celery.VERSION.minor)
    if version not in CELERY_SERIES:
        return f"Celery {celery.__version__} is not a series the copy was checked on"
    # Loaded here: the app loads both when it publishes, a caller's import need not.
    from celery.app.amqp import AMQP
    from celery.utils.saferepr import saferepr

    try:
        digest = source_digest(Celery.send_task)
        route = _parameters(Router.route)
        message = _parameters(AMQP.as_task_v2)
        amqp_type: Any = AMQP
        sender = source_text(amqp_type._create_task_sender)
        checks = {
            "Celery.send_task": digest == SEND_TASK_SHA256,
            "Router.route": route[:6]
            == ["self", "options", "name", "args", "kwargs", "task_type"],
            "AMQP.as_task_v2": {"reply_to", "root_id", "parent_id", "ignore_result"}
            <= set(message),
            "send_task_message": "def send_task_message(producer, name, message,"
            in sender
            and all(
                f"{name}=None" in sender
                for name in ("declare", "headers", "retry_policy", "timeout")
            ),
            "Task._get_exec_options": callable(
                getattr(Task, "_get_exec_options", None)
            ),
            "Celery.thread_oid": isinstance(
                inspect.getattr_static(Celery, "thread_oid", None), property
            ),
            "Connection._reraise_as_library_errors": callable(
                getattr(Connection, "_reraise_as_library_errors", None)
            ),
            "Connection.declared_entities": "declared_entities"
            in source_text(Connection.__init__),
            "Queue.can_cache_declaration": hasattr(Queue, "can_cache_declaration"),
            "saferepr": {"argsrepr", "kwargsrepr"} <= set(message)
            and hasattr(AMQP, "argsrepr_maxsize")
            and hasattr(AMQP, "kwargsrepr_maxsize")
            and all(
                flat_repr(value, 1024, 3) == saferepr(value, 1024, maxlevels=3)
                for value in _REPR_SAMPLES
            ),
        }
    except (AttributeError, TypeError, OSError, ValueError) as error:
        return f"Celery or kombu changed ({type(error).__name__})"
    return changed_checks(checks)


def stock_send_task(app: Celery) -> bool:
    """Whether ``app``'s class uses Celery's own ``send_task`` (not an override)."""
    return getattr(type(app), "send_task", None) is Celery.send_task


_warn = FallbackWarning(
    logger,
    "spakky-celery: this Celery differs from the one its publish fast path "
    "was written for (%s); tasks are published with Celery's own send_task, "
    "which is correct but slower. Pin celery to 5.7.x or update spakky-celery.",
)
"""Logs the probe's finding once per process."""


def fast_publish_for(app: Celery) -> "FastPublisher | None":
    """The fast path for ``app``, or None when calls must take ``send_task``.

    None when the app's class overrides ``send_task`` (a user's hook), when
    ``app.conf.spakky_fast_publish`` is false, and, with one warning, when the
    installed Celery does not pass ``fast_publish_problem``.
    """
    if not stock_send_task(app) or not app.conf.get(FAST_PUBLISH_KEY, True):
        return None
    problem = fast_publish_problem()
    if problem is not None:
        _warn(problem)
        return None
    return FastPublisher(app)


class FastPublisher:
    """``send_task``'s steps for one Celery app, with static routes cached."""

    _app: Celery
    _routes: dict[_RouteKey, dict[str, Any]]

    def __init__(self, app: Celery) -> None:
        self._app = app
        self._routes = {}

    def publish(
        self,
        producer: Producer,
        name: str,
        args: tuple[object, ...],
        kwargs: dict[str, object],
        headers: dict[str, str] | None,
        task_id: str | None,
        options: dict[str, Any],
    ) -> AsyncResult[Any] | None:
        """Publish as ``send_task(..., producer=producer, **options)`` would.

        Returns None, having sent nothing, when the call has a countdown, an
        eta or an expiry (the call's or the task's): send it with ``send_task``.
        """
        if not SLOW_OPTIONS.isdisjoint(options):
            return None
        app = self._app
        amqp = app.amqp
        task_type = _registered(app, name)
        options = {"headers": headers, **self._exec_options(task_type), **options}
        time_limit = options.pop("time_limit", None)
        soft_time_limit = options.pop("soft_time_limit", None)
        if options.pop("expires", None) is not None:
            return None
        ignore_result = options.pop("ignore_result", None)
        options = self._route(options, name, args, kwargs, task_type)
        task_id = task_id or uuid()
        root_id = parent_id = None
        parent = app.current_worker_task
        if parent:
            request = parent.request
            root_id = request.root_id or request.id
            parent_id = request.id
            if app.conf.task_inherit_parent_priority:
                options.setdefault(
                    "priority", (request.delivery_info or {}).get("priority")
                )
        reprs = _reprs(amqp, app.conf.task_repr_maxlevels, args, kwargs, options)
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
            **reprs,
            **options,
        )
        for stamp in options.pop("stamped_headers", None) or ():
            options.pop(stamp)
        connection: Any = producer.connection
        with connection._reraise_as_library_errors():
            if not ignore_result:
                app.backend.on_task_call(producer, task_id)
            amqp.send_task_message(
                producer,
                name,
                message,
                declare=_declare(connection, options.get("queue")),
                **options,
            )
        result: AsyncResult[Any] = app.AsyncResult(task_id)
        result.ignored = ignore_result
        if parent:
            parent.add_trail(result)
        return result

    def _exec_options(self, task_type: object) -> dict[str, Any]:
        """The task's own execution options that are set, as ``send_task`` reads them."""
        get = getattr(task_type, "_get_exec_options", None)
        if not inspect.ismethod(get):
            return {}
        return {key: value for key, value in get().items() if value is not None}

    def _route(
        self,
        options: dict[str, Any],
        name: str,
        args: tuple[object, ...],
        kwargs: dict[str, object],
        task_type: object,
    ) -> dict[str, Any]:
        """``router.route``; resolved once per name and options for static routes."""
        router: Any = self._app.amqp.router
        if not all(isinstance(route, MapRoute) for route in router.routes):
            return dict(router.route(options, name, args, kwargs, task_type))
        passed = {key: options.pop(key) for key in _PUBLISH_OPTIONS if key in options}
        route = dict(self._static_route(options, name, args, kwargs, task_type))
        for option, value in passed.items():  # Celery's lpmerge: None keeps the route's
            if value is not None or option not in route:
                route[option] = value
        return route

    def _static_route(
        self,
        options: dict[str, Any],
        name: str,
        args: tuple[object, ...],
        kwargs: dict[str, object],
        task_type: object,
    ) -> dict[str, Any]:
        """The route of ``name`` with ``options``, from the cache when it is there."""
        router: Any = self._app.amqp.router
        key: _RouteKey = (name, tuple(sorted(options.items())))
        try:
            cached = self._routes.get(key)
        except TypeError:  # an unhashable option value: route this call only
            return dict(router.route(options, name, args, kwargs, task_type))
        if cached is None:
            if len(self._routes) >= _MAX_ROUTES:
                self._routes.clear()
            cached = self._routes[key] = router.route(
                options, name, args, kwargs, task_type
            )
        return cached


def _reprs(
    amqp: Any,
    maxlevels: object,
    args: tuple[object, ...],
    kwargs: dict[str, object],
    options: dict[str, Any],
) -> dict[str, str]:
    """``argsrepr`` / ``kwargsrepr`` for ``create_task_message`` where
    ``flat_repr`` writes them; the rest (and a call's own) are left to Celery."""
    reprs: dict[str, str] = {}
    if "argsrepr" not in options:
        text = flat_repr(args, amqp.argsrepr_maxsize, maxlevels)
        if text is not None:
            reprs["argsrepr"] = text
    if "kwargsrepr" not in options:
        text = flat_repr(kwargs, amqp.kwargsrepr_maxsize, maxlevels)
        if text is not None:
            reprs["kwargsrepr"] = text
    return reprs


_NUMBERS: Final = frozenset({int, float, bool})
"""Exact types ``saferepr`` writes with ``str`` (as ``numbers.Number``s)."""


def _plain(value: object) -> str | None:
    """What ``saferepr`` writes for one plain value, or None for any other value."""
    kind = type(value)
    if kind is str:
        text = cast(str, value)
        return "'" + text.replace("'", "\\'") + "'"  # saferepr's quoting, not repr's
    if kind in _NUMBERS:
        return str(value)
    if value is None:
        return "None"
    return None


def flat_repr(value: object, maxlen: object, maxlevels: object) -> str | None:
    """``saferepr(value, maxlen, maxlevels=maxlevels)`` for a flat tuple or dict
    of plain values (``str``, ``int``, ``float``, ``bool``, ``None``), else None.

    Only when nothing gets truncated: the text is shorter than ``maxlen`` (a
    positive int), so every token ``saferepr`` measures fits in what is left,
    and ``maxlevels`` lets the container open (0, None or at least 1). Strings
    are quoted as ``saferepr`` quotes them (only ``'`` escaped). Subclasses,
    nested containers and every other type give None. ``fast_publish_problem``
    compares it with ``saferepr`` on ``_REPR_SAMPLES`` once per process.
    """
    if type(maxlen) is not int or maxlen <= 0:
        return None
    if maxlevels not in (0, None) and (type(maxlevels) is not int or maxlevels < 1):
        return None
    kind = type(value)
    parts: list[str] = []
    try:
        if kind is tuple:
            for item in cast(tuple[object, ...], value):
                text = _plain(item)
                if text is None:
                    return None
                parts.append(text)
            if len(parts) == 1:
                result = f"({parts[0]},)"
            else:
                result = "(" + ", ".join(parts) + ")"
        elif kind is dict:
            for key, item in cast(dict[object, object], value).items():
                key_text, item_text = _plain(key), _plain(item)
                if key_text is None or item_text is None:
                    return None
                parts.append(f"{key_text}: {item_text}")
            result = "{" + ", ".join(parts) + "}"
        else:
            return None
    except ValueError:  # e.g. an int too long for str(): saferepr says so itself
        return None
    return result if len(result) < maxlen else None


def _registered(app: Celery, name: str) -> object:
    """The app's task ``name`` if registered (``send_task``'s lookup), else None."""
    registry: Any = cast(Any, app)._tasks
    get = getattr(registry, "get", None)
    if callable(get):
        return get(name)
    try:
        return registry[name]
    except KeyError:
        return None


def _declare(connection: Any, queue: object) -> list[Queue] | None:
    """``[]`` when ``connection`` declared ``queue`` already; None lets Celery decide.

    kombu's own check (``maybe_declare``) binds a copy of the queue on every
    publish before looking at the same ``declared_entities`` cache.
    """
    if (
        isinstance(queue, Queue)
        and queue.can_cache_declaration
        and hash(queue) in connection.declared_entities
    ):
        return []
    return None
