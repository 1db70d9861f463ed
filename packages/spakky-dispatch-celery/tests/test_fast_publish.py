"""The long-lived-producer publish path keeps Celery's contract.

Messages are protocol-2 messages a stock Celery worker runs, task routes apply
and ``before_task_publish`` / ``after_task_publish`` fire.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from celery.signals import after_task_publish, before_task_publish
from kombu import Queue

from spakky.dispatch.celery import CeleryTaskSender
from spakky.dispatch.celery.producer import stock_send_task
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
