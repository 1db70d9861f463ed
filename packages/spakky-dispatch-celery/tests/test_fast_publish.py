"""The long-lived-producer publish path keeps Celery's contract.

Messages are protocol-2 messages a stock Celery worker runs, task routes apply
and ``before_task_publish`` / ``after_task_publish`` fire. The fast path's
guard: it runs only on the Celery it was checked against, and otherwise every
call takes ``send_task`` (``test_fast_publish_wire.py`` compares the messages).
"""

import inspect
import linecache
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from celery.signals import after_task_publish, before_task_publish
from celery.utils.saferepr import saferepr
from kombu import Queue

from spakky.dispatch.celery import CeleryTaskSender, fast_publish
from spakky.dispatch.celery.fast_publish import (
    FAST_PUBLISH_KEY,
    fast_publish_problem,
    flat_repr,
    source_text,
    stock_send_task,
)
from spakky.dispatch.celery.producer import TaskPublisher
from spakky.dispatch.core import DispatchOptions
from spakky.dispatch.core.adapter import TaskMessage


def _stock_app(name: str) -> Celery:
    app = Celery(
        name, broker="memory://", backend="cache+memory://", set_as_current=False
    )
    app.conf.task_default_queue = f"{name}-default"

    @app.task(name="stock.add", shared=False)
    def add(a: int, b: int) -> int:
        return a + b

    return app


@pytest.fixture
def published() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    seen: list[tuple[str, dict[str, Any]]] = []

    def before(sender: str, **kwargs: Any) -> None:
        seen.append(("before", {"sender": sender, **kwargs}))

    def after(sender: str, **kwargs: Any) -> None:
        seen.append(("after", {"sender": sender, **kwargs}))

    before_task_publish.connect(before, weak=False)
    after_task_publish.connect(after, weak=False)
    yield seen
    before_task_publish.disconnect(before)
    after_task_publish.disconnect(after)


def test_fast_publish_stock_worker_expect_task_runs() -> None:
    """A stock Celery worker executes what CeleryTaskSender publishes."""
    app = _stock_app("fast-stock")
    sender = CeleryTaskSender(app)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        results = [
            sender.send(TaskMessage(task_name="stock.add", args=(n, 1)))
            for n in range(3)
        ]
        assert [result.get(timeout=10) for result in results] == [1, 2, 3]  # type: ignore[call-arg]


def test_fast_publish_signals_expect_protocol2_message(
    published: list[tuple[str, dict[str, Any]]],
) -> None:
    """Both publish signals fire, with a protocol-2 body and headers."""
    app = _stock_app("fast-signals")
    sender = CeleryTaskSender(app)
    result = sender.send(
        TaskMessage(task_name="stock.add", args=(1, 2), kwargs={}, headers={"x-h": "v"})
    )
    kinds = [kind for kind, _ in published if _["sender"] == "stock.add"]
    assert kinds == ["before", "after"]
    after = published[-1][1]
    args, kwargs, embed = after["body"]
    assert (tuple(args), kwargs) == ((1, 2), {})
    assert set(embed) == {"callbacks", "errbacks", "chain", "chord"}
    headers = after["headers"]
    assert headers["task"] == "stock.add"
    assert headers["id"] == result.task_id
    assert headers["lang"] == "py"
    assert headers["argsrepr"] == "(1, 2)"
    assert headers["x-h"] == "v"
    assert after["routing_key"] == "fast-signals-default"


def test_fast_publish_task_routes_expect_routed_queue(
    published: list[tuple[str, dict[str, Any]]],
) -> None:
    """``task_routes`` (mapping and callable) decide the queue, every call."""
    app = _stock_app("fast-routes")
    app.conf.task_queues = [
        Queue("fast-routes-default"),
        Queue("routed"),
        Queue("by-arg"),
    ]
    app.conf.task_routes = {"stock.add": {"queue": "routed"}}
    sender = CeleryTaskSender(app)
    for _ in range(2):
        sender.send(TaskMessage(task_name="stock.add", args=(1, 2)))
    keys = [e["routing_key"] for kind, e in published if kind == "after"]
    assert keys == ["routed", "routed"]


def test_fast_publish_callable_route_expect_per_call_routing(
    published: list[tuple[str, dict[str, Any]]],
) -> None:
    """A callable route sees each call's arguments (no cached route)."""
    app = _stock_app("fast-callable")

    def route(name: str, args: Any, kwargs: Any, options: Any, **_: Any) -> Any:
        return {"queue": "odd" if args[0] % 2 else "even"}

    app.conf.task_routes = (route,)
    sender = CeleryTaskSender(app)
    for n in (1, 2, 3):
        sender.send(TaskMessage(task_name="stock.add", args=(n, 0)))
    keys = [e["routing_key"] for kind, e in published if kind == "after"]
    assert keys == ["odd", "even", "odd"]


def test_fast_publish_explicit_queue_expect_queue_wins(
    published: list[tuple[str, dict[str, Any]]],
) -> None:
    """A call's own queue overrides the route; a countdown takes send_task."""
    app = _stock_app("fast-queue")
    app.conf.task_queues = [Queue("fast-queue-default"), Queue("q2")]
    app.conf.task_routes = {"stock.add": {"queue": "fast-queue-default"}}
    sender = CeleryTaskSender(app)
    sender.send(
        TaskMessage(
            task_name="stock.add", args=(1, 2), options=DispatchOptions(queue="q2")
        )
    )
    sender.send(
        TaskMessage(
            task_name="stock.add", args=(1, 2), options=DispatchOptions(countdown=5)
        )
    )
    afters = [e for kind, e in published if kind == "after"]
    assert [e["routing_key"] for e in afters] == ["q2", "fast-queue-default"]
    assert afters[1]["headers"]["eta"] is not None


class TenantCelery(Celery):
    """A user's Celery subclass: every task it sends carries a tenant header."""

    def send_task(self, name: str, *args: Any, **options: Any) -> Any:  # type: ignore[override]
        headers = dict(options.pop("headers", None) or {})
        headers["tenant"] = "acme"
        return super().send_task(name, *args, headers=headers, **options)


def test_fast_publish_celery_subclass_send_task_expect_override_used() -> None:
    """An app whose class overrides ``send_task`` is published through it.

    The fast path only stands in for Celery's own ``send_task``: the worker
    sees the header the override adds.
    """
    app = TenantCelery(
        "fast-tenant",
        broker="memory://",
        backend="cache+memory://",
        set_as_current=False,
    )
    app.conf.task_default_queue = "fast-tenant-default"

    @app.task(name="tenant.seen", shared=False, bind=True)
    def seen(task: Any) -> object:
        return (task.request.headers or {}).get("tenant")

    sender = CeleryTaskSender(app)
    assert stock_send_task(_stock_app("fast-stock-check")) is True
    assert stock_send_task(app) is False
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        result = sender.send(TaskMessage(task_name="tenant.seen", headers={"x-h": "v"}))
        assert result.get(timeout=10) == "acme"


class _Spy:
    """Counts the calls an app makes to its own ``send_task``."""

    def __init__(self, app: Celery) -> None:
        self.calls = 0
        self._send = app.send_task

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self._send(*args, **kwargs)


def test_fast_publish_probe_installed_celery_expect_no_problem() -> None:
    """The installed Celery is the one the copy was checked on.

    Fails after a Celery update that touched ``send_task``: re-read its diff,
    run ``test_fast_publish_wire.py`` and update ``SEND_TASK_SHA256``.
    """
    assert fast_publish_problem() is None


@pytest.fixture
def probe() -> Iterator[None]:
    """A fresh probe and warning for the test, and again after it."""
    fast_publish.fast_publish_problem.cache_clear()
    fast_publish._warn.cache_clear()
    yield
    fast_publish.fast_publish_problem.cache_clear()
    fast_publish._warn.cache_clear()


@pytest.mark.usefixtures("probe")
@pytest.mark.parametrize(
    ("attribute", "value", "problem"),
    [
        ("CELERY_SERIES", frozenset({(4, 4)}), "is not a series the copy was checked"),
        ("SEND_TASK_SHA256", "0" * 64, "changed: Celery.send_task"),
    ],
)
def test_fast_publish_probe_other_celery_expect_problem(
    monkeypatch: pytest.MonkeyPatch, attribute: str, value: object, problem: str
) -> None:
    """Another Celery series, or another ``send_task``, fails the probe."""
    monkeypatch.setattr(fast_publish, attribute, value)
    assert problem in str(fast_publish_problem())


@pytest.mark.usefixtures("probe")
def test_fast_publish_probe_unreadable_source_expect_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Source that cannot be read (a zipped install) counts as a changed Celery."""

    def unreadable(obj: object) -> str:
        raise OSError("no source")

    monkeypatch.setattr(inspect, "getsource", unreadable)
    monkeypatch.setattr(linecache, "getlines", lambda *_: [])
    source_text.cache_clear()
    assert fast_publish_problem() == "Celery or kombu changed (OSError)"


@pytest.mark.usefixtures("probe")
def test_fast_publish_probe_fails_expect_one_warning_and_send_task_used(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """With a Celery the copy does not fit, send_task publishes and workers run it."""
    monkeypatch.setattr(fast_publish, "SEND_TASK_SHA256", "0" * 64)
    app = _stock_app("fast-probe-failed")
    spy = _Spy(app)
    monkeypatch.setattr(app, "send_task", spy)
    with caplog.at_level(logging.WARNING, logger=fast_publish.__name__):
        sender = CeleryTaskSender(app)
        CeleryTaskSender(app)
    assert sender._publisher.fast is False
    assert caplog.text.count("publish fast path") == 1
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        result = sender.send(TaskMessage(task_name="stock.add", args=(2, 3)))
        assert result.get(timeout=10) == 5  # type: ignore[call-arg]
    assert spy.calls == 1


def test_fast_publish_turned_off_expect_send_task_and_kombu_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``app.conf.spakky_fast_publish = False`` leaves every call to send_task."""
    app = _stock_app("fast-off")
    app.conf.broker_url = "redis://127.0.0.1:6379/9"
    assert TaskPublisher(app).fast is True
    assert TaskPublisher(app).transport is not None
    app.conf[FAST_PUBLISH_KEY] = False
    publisher = TaskPublisher(app)
    assert (publisher.fast, publisher.transport) == (False, None)


def test_fast_publish_task_level_expiry_expect_send_task(
    published: list[tuple[str, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task whose own options set an expiry is sent by send_task, which owns it."""
    app = _stock_app("fast-expires")

    @app.task(name="stock.expiring", shared=False, expires=60)
    def expiring() -> None: ...

    app.finalize()
    spy = _Spy(app)
    monkeypatch.setattr(app, "send_task", spy)
    CeleryTaskSender(app).send(TaskMessage(task_name="stock.expiring"))
    CeleryTaskSender(app).send(TaskMessage(task_name="stock.add", args=(1, 1)))
    assert spy.calls == 1
    afters = [e for kind, e in published if kind == "after"]
    assert afters[0]["headers"]["expires"] is not None
    assert afters[1]["headers"]["expires"] is None


def test_fast_publish_route_cache_full_expect_started_over(
    published: list[tuple[str, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The route cache is bounded: when full it starts over, routes stay right."""
    monkeypatch.setattr(fast_publish, "_MAX_ROUTES", 1)
    app = _stock_app("fast-bounded")
    app.conf.task_queues = [Queue("fast-bounded-default"), Queue("b1"), Queue("b2")]
    publisher = fast_publish.FastPublisher(app)
    with app.producer_or_acquire() as producer:
        for queue in ("b1", "b2", "b1"):
            publisher.publish(
                producer, "stock.add", (1, 2), {}, None, None, {"queue": queue}
            )
    assert len(publisher._routes) == 1
    keys = [e["routing_key"] for kind, e in published if kind == "after"]
    assert keys == ["b1", "b2", "b1"]


class _KeyOnlyRegistry:
    """A task registry with item access only (``send_task`` accepts those)."""

    def __init__(self, tasks: dict[str, object]) -> None:
        self._tasks = tasks

    def __getitem__(self, name: str) -> object:
        return self._tasks[name]


def test_fast_publish_registry_without_get_expect_lookup_by_key() -> None:
    """A registry without ``get`` is read by key, a missing name gives None."""
    app = _stock_app("fast-registry")
    task = object()
    app._tasks = _KeyOnlyRegistry({"known": task})  # type: ignore[assignment]
    assert fast_publish._registered(app, "known") is task
    assert fast_publish._registered(app, "unknown") is None


def test_fast_publish_reset_without_producer_expect_nothing_to_release() -> None:
    """Resetting a publisher that never published releases nothing and keeps working."""
    app = _stock_app("fast-reset")
    publisher = TaskPublisher(app)
    publisher.reset()
    publisher.publish("stock.add", (1, 2), {}, None, None, {})
    publisher.reset()
    publisher.reset()


class _Text(str):
    """A ``str`` subclass: its own ``__repr__`` may differ, so not plain."""


@pytest.mark.parametrize(
    "value",
    [
        ((1,),),  # nested
        ([1],),
        {"k": {"a": 1}},
        {(1, 2): 3},  # a key that is not plain
        (_Text("a"),),
        (b"bytes",),
        [1, 2],  # a list at the top
        "text",
        1,
        (10**5000,),  # str() refuses it: saferepr reports that itself
    ],
)
def test_flat_repr_not_flat_or_plain_expect_none(value: object) -> None:
    """Only flat tuples and dicts of plain values are written by ``flat_repr``."""
    assert flat_repr(value, 1024, 3) is None


@pytest.mark.parametrize(
    ("maxlen", "maxlevels", "expected"),
    [
        (1024, 3, "(1, 'a')"),
        (1024, 1, "(1, 'a')"),
        (1024, 0, "(1, 'a')"),
        (1024, None, "(1, 'a')"),
        (9, 3, "(1, 'a')"),
        (8, 3, None),  # as long as the limit: saferepr would truncate
        (0, 3, None),
        (None, 3, None),
        ("1024", 3, None),
        (1024, -1, None),
        (1024, 1.5, None),
    ],
)
def test_flat_repr_limits_expect_saferepr_or_none(
    maxlen: Any, maxlevels: Any, expected: str | None
) -> None:
    """``flat_repr`` answers only where nothing is truncated; then as saferepr."""
    text = flat_repr((1, "a"), maxlen, maxlevels)
    assert text == expected
    if text is not None:
        assert text == saferepr((1, "a"), maxlen, maxlevels=maxlevels)


@pytest.mark.parametrize(
    "value",
    [
        (),
        {},
        ("",),
        ("it's", 'say "hi"', "back\\slash", "a\nb\tc", "é ☃ \u2028"),
        (True, None, 1.5, float("nan"), float("-inf"), -(2**70), 0),
        {"a b": "c'd", "n": None, 2: 2, True: False, 0.5: "x"},
        ("x" * 1018,),
    ],
)
def test_flat_repr_plain_values_expect_saferepr_text(value: object) -> None:
    """Quotes, escapes, numbers and None are written as ``saferepr`` writes them."""
    assert flat_repr(value, 1024, 3) == saferepr(value, 1024, maxlevels=3)


@pytest.mark.usefixtures("probe")
def test_fast_publish_probe_saferepr_changed_expect_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Celery whose saferepr writes other text fails the probe."""
    monkeypatch.setattr(
        "celery.utils.saferepr.saferepr", lambda value, *_, **__: repr(value)
    )
    assert fast_publish_problem() == "changed: saferepr"
