"""The publish fast path sends the message ``Celery.send_task`` sends.

Each case publishes the same call through ``TaskPublisher``'s fast path and
through Celery's own ``send_task`` on kombu's in-memory transport, and compares
what lands in the queue field by field: the queue, headers, properties
(delivery info with exchange and routing key, priority, reply-to, correlation
id), the decoded body and the publish signal's arguments. Only values that are
random by design are normalised: kombu's ``delivery_tag``, and the task id (with
the root id and correlation id that repeat it) when the call gives none. The
``origin`` header names this process in both and is compared as is.
"""

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from celery import Celery
from celery.signals import before_task_publish
from kombu import Exchange, Queue
from kombu.transport import memory

from spakky.dispatch.celery.producer import TaskPublisher

pytestmark = (
    pytest.mark.filterwarnings(  # task-level queue/priority: Celery 6 drops them
        "ignore::celery.exceptions.CDeprecationWarning"
    )
)

type Envelope = dict[str, Any]

RANDOM = "<random>"


def _app(tag: str, *, finalize: bool = True) -> Celery:
    """An app with four queues and two tasks (one with its own options).

    Finalized unless told otherwise: before that, ``send_task`` does not see
    the app's tasks (nor their options), and neither does the fast path.
    """
    app = Celery(
        f"wire-{tag}",
        broker="memory://",
        backend="cache+memory://",
        set_as_current=False,
    )
    app.conf.task_default_queue = f"{tag}-default"
    app.conf.task_queues = [
        Queue(f"{tag}-default"),
        Queue(f"{tag}-q2", Exchange(f"{tag}-default"), f"{tag}-q2"),
        Queue(f"{tag}-routed"),
        Queue(f"{tag}-topic", Exchange(f"{tag}-topic", type="topic"), "wire.#"),
    ]

    @app.task(name="wire.add", shared=False)
    def add(*args: Any, **kwargs: Any) -> None: ...

    @app.task(
        name="wire.limited",
        shared=False,
        queue=f"{tag}-q2",
        priority=3,
        time_limit=30,
        soft_time_limit=20,
    )
    def limited(*args: Any, **kwargs: Any) -> None: ...

    if finalize:
        app.finalize()
    with app.connection_for_write() as connection:  # bindings for exchange routing
        for queue in app.amqp.queues.values():
            queue(connection.default_channel).declare()
    return app


def _take(tag: str) -> tuple[str, Envelope]:
    """The one message published since the last take, and its queue."""
    found = [
        (name, queue.get_nowait())
        for name, queue in list(memory.Channel.queues.items())
        if name.startswith(tag) and queue.qsize()
    ]
    assert len(found) == 1, f"expected one message, found {len(found)}"
    return found[0]


def _normalised(envelope: Envelope, random_id: bool) -> Envelope:
    """``envelope`` with its body decoded and its random values replaced."""
    copy = json.loads(json.dumps(envelope))
    properties = copy["properties"]
    assert properties.pop("delivery_tag")  # kombu's uuid for this delivery
    copy["body"] = json.loads(base64.b64decode(copy["body"]))
    if random_id:
        headers = copy["headers"]
        assert headers["id"] == headers["root_id"] == properties["correlation_id"]
        headers["id"] = headers["root_id"] = properties["correlation_id"] = RANDOM
    return copy


@pytest.fixture
def signalled() -> Iterator[list[dict[str, Any]]]:
    """The ``before_task_publish`` arguments of every publish, in order."""
    seen: list[dict[str, Any]] = []

    def before(sender: str, **kwargs: Any) -> None:
        kwargs.pop("signal", None)
        seen.append({"sender": sender, **kwargs})

    before_task_publish.connect(before, weak=False)
    yield seen
    before_task_publish.disconnect(before)


type Case = tuple[str, tuple[Any, ...], dict[str, Any], dict[str, str] | None, bool]
"""Task name, args, kwargs, headers, and whether the call gives its task id."""

_AWKWARD_ARGS = (
    "it's",
    'say "hi"',
    "line\nbreak\ttab \\ slash",
    "é ☃ \u2028",
    "x" * 2000,
    [[[[1]]]],
    {"a": {"b": {"c": {"d": 1}}}},
    1.5,
    None,
    True,
    -(2**70),
)

_FLAT_ARGS = (
    "it's",
    'say "hi"',
    "line\nbreak\ttab \\ slash",
    "é ☃ \u2028",
    "",
    1.5,
    float("nan"),
    None,
    True,
    -(2**70),
)
"""Plain values in flat containers: the fast path writes their reprs itself."""

CASES: dict[str, tuple[Case, Callable[[str], dict[str, Any]]]] = {
    "plain": (("wire.add", (1, 2), {}, None, True), lambda tag: {}),
    "no task id": (("wire.add", (1,), {"k": 2}, None, False), lambda tag: {}),
    "headers": (
        (
            "wire.add",
            (),
            {},
            {"traceparent": f"00-{'a' * 32}-{'b' * 16}-01", "x-h": "v"},
            True,
        ),
        lambda tag: {},
    ),
    "awkward argsrepr": (
        ("wire.add", _AWKWARD_ARGS, {"k": _AWKWARD_ARGS, "q": "'"}, None, True),
        lambda tag: {},
    ),
    "flat argsrepr": (
        ("wire.add", _FLAT_ARGS, {"q": "'", "n": None, "": 0.1}, None, True),
        lambda tag: {},
    ),
    "flat argsrepr just below its limit": (
        ("wire.add", ("x" * 1018,), {"k": "y" * 1014}, None, True),
        lambda tag: {},
    ),
    "flat argsrepr at its limit (truncated)": (
        ("wire.add", ("x" * 1019,), {"k": "y" * 1015}, None, True),
        lambda tag: {},
    ),
    "argsrepr given": (
        ("wire.add", (1,), {"k": 2}, None, True),
        lambda tag: {"argsrepr": "(<hidden>,)", "kwargsrepr": "{<hidden>}"},
    ),
    "queue": (("wire.add", (1,), {}, None, True), lambda tag: {"queue": f"{tag}-q2"}),
    "routing key": (
        ("wire.add", (1,), {}, None, True),
        lambda tag: {"routing_key": f"{tag}-q2", "exchange": f"{tag}-default"},
    ),
    "topic routing key": (
        ("wire.add", (1,), {}, None, True),
        lambda tag: {"routing_key": "wire.x", "exchange": f"{tag}-topic"},
    ),
    "topic queue": (
        ("wire.add", (1,), {}, None, True),
        lambda tag: {"queue": f"{tag}-topic"},
    ),
    "priority": (("wire.add", (1,), {}, None, True), lambda tag: {"priority": 7}),
    "time limits": (
        ("wire.add", (1,), {}, None, True),
        lambda tag: {"time_limit": 30, "soft_time_limit": 20},
    ),
    "ignore result": (
        ("wire.add", (1,), {}, None, True),
        lambda tag: {"ignore_result": True},
    ),
    "keep result": (
        ("wire.add", (1,), {}, None, False),
        lambda tag: {"ignore_result": False},
    ),
    "task options": (("wire.limited", (1,), {}, None, True), lambda tag: {}),
    "task options overridden": (
        ("wire.limited", (1,), {}, None, True),
        lambda tag: {"queue": f"{tag}-default", "priority": 1, "time_limit": 5},
    ),
    "unregistered task": (("remote.task", (1,), {}, None, True), lambda tag: {}),
    "publish options": (
        ("wire.add", (1,), {}, None, True),
        lambda tag: {
            "retry_policy": {"max_retries": 1, "errback": _errback},
            "timeout": 5.0,
            "confirm_timeout": 5.0,
        },
    ),
    "unhashable option value": (
        ("wire.add", (1,), {}, None, True),
        lambda tag: {"x_note": ["not", "hashable"]},
    ),
    "everything": (
        ("wire.add", (1, "a"), {"k": [1]}, {"x-h": "v"}, False),
        lambda tag: {
            "queue": f"{tag}-q2",
            "priority": 2,
            "time_limit": 9,
            "soft_time_limit": 8,
            "ignore_result": True,
            "retry_policy": {"errback": _errback},
            "timeout": 3.0,
        },
    ),
}


def _errback(error: BaseException, interval: object) -> None:
    """A publish retry callback (never called here)."""


def _compare(
    app: Celery,
    tag: str,
    case: Case,
    options: dict[str, Any],
    signalled: list[dict[str, Any]],
) -> list[tuple[str, Envelope]]:
    """Publish ``case`` twice per path and assert the wire messages agree.

    Returns the fast path's messages.
    """
    name, args, kwargs, headers, given_id = case
    publisher = TaskPublisher(app)
    assert publisher.fast
    ids = [str(uuid.uuid4()) if given_id else None for _ in range(2)]
    fast, public = [], []
    for task_id in ids:  # the second call uses the cached route and declaration
        publisher.publish(name, args, kwargs, headers, task_id, dict(options))
        fast.append(_take(tag))
    for task_id in ids:
        Celery.send_task(
            app,
            name,
            args=args,
            kwargs=kwargs,
            headers=headers,
            task_id=task_id,
            **options,
        )
        public.append(_take(tag))
    for (fast_queue, ours), (public_queue, theirs) in zip(fast, public, strict=True):
        assert fast_queue == public_queue
        assert _normalised(ours, not given_id) == _normalised(theirs, not given_id)
    _compare_signals(signalled, given_id)
    return fast


def _compare_signals(signalled: list[dict[str, Any]], given_id: bool) -> None:
    """The publish signal saw the same message; ``declare`` only on first use."""
    fast, public = signalled[:2], signalled[2:]
    assert len(public) == 2
    for ours, theirs in zip(fast, public, strict=True):
        ours, theirs = dict(ours), dict(theirs)
        if not given_id:
            for each in (ours, theirs):
                each["headers"] = {**each["headers"], "id": RANDOM, "root_id": RANDOM}
                each["properties"] = {**each["properties"], "correlation_id": RANDOM}
        declared = ours.pop("declare"), theirs.pop("declare")
        assert ours == theirs
        assert declared[0] in ([], declared[1])
    assert fast[0]["declare"] == public[0]["declare"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_publish_wire_expect_same_message_as_send_task(
    case: str, signalled: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every option the fast path serves gives ``send_task``'s wire message."""
    tag = f"w{uuid.uuid4().hex[:8]}"
    app = _app(tag)
    monkeypatch.setattr(app, "send_task", _not_called)  # the fast path must serve it
    call, options = CASES[case]
    _compare(app, tag, call, options(tag), signalled)


def test_fast_publish_wire_app_not_finalized_expect_same_message_as_send_task(
    signalled: list[dict[str, Any]],
) -> None:
    """Before the app is finalized both paths ignore the task's own options."""
    tag = f"w{uuid.uuid4().hex[:8]}"
    app = _app(tag, finalize=False)
    (queue, _), _ = _compare(
        app, tag, ("wire.limited", (1,), {}, None, True), {}, signalled
    )
    assert queue == f"{tag}-default"
    assert not app.finalized


def _not_called(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("the fast path handed the call to send_task")


@pytest.mark.parametrize(
    "routes",
    [
        pytest.param(lambda tag: {"wire.add": {"queue": f"{tag}-routed"}}, id="map"),
        pytest.param(lambda tag: {"wire.*": f"{tag}-routed"}, id="glob"),
        pytest.param(
            lambda tag: {"wire.add": {"queue": f"{tag}-routed", "headers": {"r": "1"}}},
            id="map with headers",
        ),
        pytest.param(
            lambda tag: {
                "wire.add": {
                    "queue": f"{tag}-routed",
                    "stamped_headers": ["stamp"],
                    "stamp": "s-1",
                }
            },
            id="map with stamps",
        ),
        pytest.param(
            lambda tag: (
                lambda name, args, kwargs, options, task=None, **_: {
                    "queue": f"{tag}-routed" if task is not None else f"{tag}-q2",
                    "priority": args[0],
                }
            ),
            id="callable",
        ),
    ],
)
def test_fast_publish_wire_task_routes_expect_same_message_as_send_task(
    routes: Callable[[str], object], signalled: list[dict[str, Any]]
) -> None:
    """Static and callable ``task_routes`` (which see the task) route alike."""
    tag = f"w{uuid.uuid4().hex[:8]}"
    app = _app(tag)
    app.conf.task_routes = routes(tag)
    (queue, _), _ = _compare(
        app, tag, ("wire.add", (4,), {}, None, True), {}, signalled
    )
    assert queue == f"{tag}-routed"


@pytest.mark.parametrize("inherit", [False, True])
def test_fast_publish_wire_inside_worker_task_expect_same_message_as_send_task(
    inherit: bool, signalled: list[dict[str, Any]]
) -> None:
    """A task sent from a running task carries the same root, parent and priority."""
    tag = f"w{uuid.uuid4().hex[:8]}"
    app = _app(tag)
    app.conf.task_inherit_parent_priority = inherit
    trails: list[list[str]] = []

    @app.task(name="wire.parent", shared=False, bind=True)
    def parent(task: Any) -> None:
        messages = _compare(app, tag, ("wire.add", (1,), {}, None, True), {}, signalled)
        envelope = messages[0][1]
        assert envelope["headers"]["parent_id"] == envelope["headers"]["root_id"]
        assert envelope["headers"]["parent_id"] == "parent-1"
        assert (envelope["properties"].get("priority") == 5) is inherit
        trails.append([child.id for child in task.request.children])

    parent.apply(task_id="parent-1", priority=5)
    assert len(trails) == 1
    assert len(trails[0]) == 4  # each path added both of its results to the trail
