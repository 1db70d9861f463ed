"""CeleryTaskSender: protocol-2 messages, headers, and errors at the call site."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from celery import Celery
from celery.signals import before_task_publish
from kombu import Connection, Queue

from spakky.dispatch.celery import (
    CeleryConfig,
    CeleryTaskResult,
    CeleryTaskSender,
    UnknownQueueError,
    build_celery_app,
    masked_url,
)
from spakky.dispatch.core import (
    BrokerUnavailableError,
    DispatchOptions,
    TaskArgumentSerializationError,
)
from spakky.dispatch.core.adapter import ReservedHeaderError, TaskMessage

from .celery_fakes import free_port


def _app(clean_env: pytest.MonkeyPatch, **env: str) -> Celery:
    clean_env.setenv("SPAKKY_CELERY__BROKER_URL", "memory://")
    clean_env.setenv("SPAKKY_CELERY__DEFAULT_QUEUE", f"q-{uuid.uuid4().hex}")
    for key, value in env.items():
        clean_env.setenv(f"SPAKKY_CELERY__{key.upper()}", value)
    return build_celery_app(CeleryConfig())


def _received(app: Celery, queue: str | None = None) -> Any:
    with Connection(app.conf.broker_url) as connection:
        simple = connection.SimpleQueue(Queue(queue or app.conf.task_default_queue))
        message = simple.get(timeout=2)
        message.ack()
        simple.close()
        return message


def test_send_expect_protocol2_message_with_headers(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """The message is a standard protocol-2 message carrying our headers."""
    app = _app(clean_env)
    sender = CeleryTaskSender(app)
    result = sender.send(
        TaskMessage(
            task_name="m.C.send",
            args=("a", 1),
            kwargs={"flag": True},
            headers={"traceparent": "00-x"},
            task_id="fixed-id",
        )
    )
    assert isinstance(result, CeleryTaskResult)
    assert result.task_id == "fixed-id"
    message = _received(app)
    assert message.headers["task"] == "m.C.send"
    assert message.headers["id"] == "fixed-id"
    assert message.headers["lang"] == "py"
    assert message.headers["traceparent"] == "00-x"
    args, kwargs, embed = message.decode()
    assert args == ["a", 1]
    assert kwargs == {"flag": True}
    assert set(embed) >= {"callbacks", "errbacks", "chain", "chord"}


def test_send_options_expect_queue_eta_expires_priority(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """Dispatch options reach the message and its routing."""
    app = _app(clean_env)
    eta = datetime(2030, 1, 1, tzinfo=UTC)
    CeleryTaskSender(app).send(
        TaskMessage(
            task_name="m.C.send",
            options=DispatchOptions(
                queue="reports", eta=eta, expires=eta + timedelta(hours=1), priority=3
            ),
        )
    )
    message = _received(app, "reports")
    assert message.headers["eta"] == eta.isoformat()
    assert message.headers["expires"] == (eta + timedelta(hours=1)).isoformat()
    assert message.properties["priority"] == 3


def test_header_limits_reserved_expect_celery_fields_refused(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """The sender reserves Celery's own message fields; others pass."""
    limits = CeleryTaskSender(_app(clean_env)).header_limits
    with pytest.raises(ReservedHeaderError, match=r"\['id', 'retries'\]"):
        limits.check("m.C.send", {"retries": "9", "id": "x", "traceparent": "t"})
    limits.check("m.C.send", {"traceparent": "t", "x-tenant": "a"})
    assert limits.reserved_prefixes == ()


def test_send_unserializable_argument_expect_error_naming_task_and_argument(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """An argument JSON cannot carry fails at the call site, named."""
    app = _app(clean_env)
    sender = CeleryTaskSender(app)
    with pytest.raises(TaskArgumentSerializationError) as positional:
        sender.send(TaskMessage(task_name="m.C.send", args=("ok", object())))
    assert "m.C.send: argument 1 of type object cannot be encoded with json" in str(
        positional.value
    )
    with pytest.raises(TaskArgumentSerializationError) as keyword:
        sender.send(TaskMessage(task_name="m.C.send", kwargs={"when": {1, 2}}))
    assert "argument 'when' of type set" in str(keyword.value)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("scheme", ["redis", "amqp"])
def test_send_broker_unreachable_expect_bounded_error_with_masked_url(
    clean_env: pytest.MonkeyPatch, scheme: str
) -> None:
    """A broker nobody listens on fails the call with our error, password masked."""
    port = free_port()
    clean_env.setenv(
        "SPAKKY_CELERY__BROKER_URL", f"{scheme}://user:s3cret@127.0.0.1:{port}/0"
    )
    clean_env.setenv("SPAKKY_CELERY__PUBLISH_MAX_RETRIES", "1")
    clean_env.setenv("SPAKKY_CELERY__PUBLISH_RETRY_INTERVAL", "0.05")
    clean_env.setenv("SPAKKY_CELERY__BROKER_CONNECTION_TIMEOUT", "1")
    app = build_celery_app(CeleryConfig())
    with pytest.raises(BrokerUnavailableError) as raised:
        CeleryTaskSender(app).send(TaskMessage(task_name="m.C.send"))
    text = str(raised.value)
    assert f"127.0.0.1:{port}" in text
    assert "s3cret" not in text
    assert "m.C.send was not sent" in text


def test_masked_url_expect_password_hidden() -> None:
    """Passwords never appear in URLs we print."""
    assert "secret" not in masked_url("amqp://user:secret@host:5672//")
    assert masked_url(None) == "<not set>"


def test_send_limits_routing_and_ignore_result_expect_in_message(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """Time limits, routing key and ignore_result reach the published message."""
    app = _app(clean_env)
    published: list[dict[str, Any]] = []

    def record(sender: object = None, **kwargs: Any) -> None:
        published.append(kwargs)

    before_task_publish.connect(record, weak=False)
    try:
        CeleryTaskSender(app).send(
            TaskMessage(
                task_name="m.C.send",
                options=DispatchOptions(
                    time_limit=30,
                    soft_time_limit=20,
                    ignore_result=True,
                    routing_key="rk",
                ),
            )
        )
    finally:
        before_task_publish.disconnect(record)
    assert published[0]["routing_key"] == "rk"
    assert published[0]["exchange"] == app.conf.task_default_queue
    assert list(published[0]["headers"]["timelimit"]) == [30, 20]
    assert published[0]["headers"]["ignore_result"] is True


def test_send_undeclared_queue_expect_error_naming_declared_ones(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """With declared queues, an unknown queue fails at the call site."""
    app = _app(clean_env)
    app.conf.task_queues = [Queue("mail"), Queue("reports")]
    sender = CeleryTaskSender(app)
    with pytest.raises(
        UnknownQueueError, match=r"'mails' is not among .*\['mail', 'reports'\]"
    ):
        sender.send(
            TaskMessage(task_name="m.C.send", options=DispatchOptions(queue="mails"))
        )
    sender.send(
        TaskMessage(task_name="m.C.send", options=DispatchOptions(queue="mail"))
    )
    assert _received(app, "mail").headers["task"] == "m.C.send"


@pytest.mark.parametrize(
    "options",
    [
        DispatchOptions(),
        DispatchOptions(priority=3),
        DispatchOptions(countdown=30),
        DispatchOptions(eta=datetime.now(UTC) + timedelta(minutes=5)),
        DispatchOptions(expires=60),
    ],
    ids=["fast-path", "fast-path-options", "countdown", "eta", "expires"],
)
def test_send_with_task_id_expect_published_under_that_id(
    clean_env: pytest.MonkeyPatch, options: DispatchOptions
) -> None:
    """Every publish path keeps the core's id: auth snapshots are bound to it."""
    app = _app(clean_env)
    result = CeleryTaskSender(app).send(
        TaskMessage(task_name="m.C.send", task_id="core-id-1", options=options)
    )
    assert result.task_id == "core-id-1"
    assert _received(app).headers["id"] == "core-id-1"
