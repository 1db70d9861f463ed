"""CeleryTaskSender under faults: header budget, silent brokers, refusals."""

import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from amqp.exceptions import MessageNacked, PreconditionFailed
from celery import Celery
from kombu import Connection, Queue
from kombu.exceptions import OperationalError

from spakky.dispatch.celery import (
    CeleryConfig,
    CeleryTaskSender,
    HeaderBudgetExceededError,
    build_celery_app,
)
from spakky.dispatch.celery.producer import TaskPublisher
from spakky.dispatch.celery.urls import masked_url, scrub
from spakky.dispatch.core import (
    BrokerRejectedError,
    BrokerUnavailableError,
    PublishUnconfirmedError,
)
from spakky.dispatch.core.adapter import TaskMessage

SECRET = "pw-41c2e"


def _app(clean_env: pytest.MonkeyPatch, **env: str) -> Celery:
    clean_env.setenv("SPAKKY_CELERY__BROKER_URL", "memory://")
    clean_env.setenv("SPAKKY_CELERY__DEFAULT_QUEUE", f"q-{uuid.uuid4().hex}")
    for key, value in env.items():
        clean_env.setenv(f"SPAKKY_CELERY__{key.upper()}", value)
    return build_celery_app(CeleryConfig())


def _queued(app: Celery) -> int:
    with Connection(app.conf.broker_url) as connection:
        simple = connection.SimpleQueue(Queue(app.conf.task_default_queue))
        size = int(simple.qsize())
        simple.close()
        return size


def test_header_limits_budget_expect_max_header_bytes_and_variable_named(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """The sender declares MAX_HEADER_BYTES; the dispatcher's check names the culprit."""
    app = _app(clean_env, MAX_HEADER_BYTES="100")
    limits = CeleryTaskSender(app).header_limits
    assert limits.max_bytes == 100
    headers = {"traceparent": "t" * 40, "x-big": "b" * 90}
    with pytest.raises(HeaderBudgetExceededError) as raised:
        limits.check("m.C.send", headers)
    text = str(raised.value)
    assert "m.C.send: 146 bytes of headers, budget 100" in text
    assert "'x-big' 95 B, 'traceparent' 51 B" in text
    assert "SPAKKY_CELERY__MAX_HEADER_BYTES" in text
    limits.check("m.C.send", {"traceparent": "t"})


def test_header_limits_user_app_without_budget_key_expect_default_budget() -> None:
    """An app not built from CeleryConfig gets the default 16 KiB budget."""
    app = Celery("own", broker="memory://", set_as_current=False)
    limits = CeleryTaskSender(app).header_limits
    limits.check("m.C.send", {"h": "x" * 16000})
    with pytest.raises(HeaderBudgetExceededError, match="budget 16384"):
        limits.check("m.C.send", {"h": "x" * 17000})


@pytest.fixture
def silent_broker() -> Iterator[int]:
    """A port whose connections open (kernel backlog) but are never answered."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield int(server.getsockname()[1])


@pytest.mark.timeout(60)
@pytest.mark.parametrize("scheme", ["redis", "amqp"])
def test_send_silent_broker_expect_bounded_unconfirmed_error(
    clean_env: pytest.MonkeyPatch, silent_broker: int, scheme: str
) -> None:
    """A broker that accepts connections but never answers: bounded, "may have"."""
    url = f"{scheme}://user:{SECRET}@127.0.0.1:{silent_broker}/0"
    app = _app(
        clean_env,
        BROKER_URL=url,
        BROKER_CONNECTION_TIMEOUT="0.5",
        BROKER_SOCKET_TIMEOUT="0.5",
        PUBLISH_MAX_RETRIES="0",
    )
    with pytest.raises(PublishUnconfirmedError) as raised:
        CeleryTaskSender(app).send(TaskMessage(task_name="m.C.send"))
    text = str(raised.value)
    assert (
        f"m.C.send may have reached {scheme}://user:**@127.0.0.1:{silent_broker}"
        in (text)
    )
    assert "timed out" in text.lower() or "timeout" in text.lower()
    assert SECRET not in text


type Publish = Callable[..., Any]


def _publishing(monkeypatch: pytest.MonkeyPatch, publish: Publish) -> None:
    monkeypatch.setattr(TaskPublisher, "publish", publish)


def _failing(*attempts: BaseException, final: Exception) -> Publish:
    """A publish whose retry attempts fail with ``attempts``, then with ``final``."""

    def publish(self: TaskPublisher, *args: Any) -> Any:
        errback = args[-1]["retry_policy"]["errback"]
        for attempt in attempts:
            errback(attempt, 0)
        raise final

    return publish


def _refused(detail: str = "[Errno 111] Connection refused") -> OperationalError:
    error = OperationalError(detail)
    error.__context__ = ConnectionRefusedError(111, "Connection refused")
    return error


@pytest.mark.parametrize(
    ("attempts", "final", "kind", "says"),
    [
        ((), _refused(), BrokerUnavailableError, "was not sent to"),
        (
            (ConnectionRefusedError(111, "Connection refused"),),
            _refused(),
            BrokerUnavailableError,
            "was not sent to",
        ),
        (
            (TimeoutError("timed out"),),
            _refused(),
            PublishUnconfirmedError,
            "may have reached redis://:**@127.0.0.1:1/0: an attempt was cut off after "
            "it had a connection (timed out), then the retries ended with: "
            "[Errno 111] Connection refused",
        ),
        (
            (TimeoutError("timed out"),),
            OperationalError("Connection reset by peer"),
            PublishUnconfirmedError,
            "may have reached redis://:**@127.0.0.1:1/0: Connection reset by peer",
        ),
        (
            (),
            OperationalError("Connection reset by peer"),
            PublishUnconfirmedError,
            "may have reached",
        ),
        ((), ConnectionResetError(104, "reset"), PublishUnconfirmedError, "reset"),
    ],
)
def test_send_broker_failure_expect_sent_or_maybe_sent_told_apart(
    clean_env: pytest.MonkeyPatch,
    attempts: tuple[BaseException, ...],
    final: Exception,
    kind: type[Exception],
    says: str,
) -> None:
    """ "Not sent" only when no attempt had a connection to write to."""
    app = _app(clean_env, BROKER_URL=f"redis://:{SECRET}@127.0.0.1:1/0")
    _publishing(clean_env, _failing(*attempts, final=final))
    with pytest.raises(BrokerUnavailableError) as raised:
        CeleryTaskSender(app).send(TaskMessage(task_name="m.C.send"))
    assert type(raised.value) is kind
    assert says in str(raised.value)
    assert "redis://:**@127.0.0.1:1/0" in str(raised.value)
    assert SECRET not in str(raised.value)


@pytest.mark.parametrize(
    ("final", "reason"),
    [
        (MessageNacked(), "MessageNacked (the broker gave no reason)"),
        (
            PreconditionFailed("inequivalent arg 'x-max-length'"),
            "inequivalent arg 'x-max-length'",
        ),
    ],
)
def test_send_broker_refuses_message_expect_rejected_error(
    clean_env: pytest.MonkeyPatch, final: Exception, reason: str
) -> None:
    """A nack or a channel error is a refusal, not an outage."""
    app = _app(clean_env, BROKER_URL="amqp://u:p@127.0.0.1:1//")
    wrapped = OperationalError("")
    wrapped.__context__ = final
    _publishing(clean_env, _failing(final=wrapped))
    with pytest.raises(BrokerRejectedError) as raised:
        CeleryTaskSender(app).send(TaskMessage(task_name="m.C.send"))
    assert "m.C.send was refused by amqp://u:**@127.0.0.1:1//" in str(raised.value)
    assert reason in str(raised.value)


def test_send_error_not_from_broker_expect_raised_unchanged(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """An error that is not the broker's (a bug) is not disguised as one."""
    app = _app(clean_env)
    _publishing(clean_env, _failing(final=KeyError("routing")))
    sender = CeleryTaskSender(app)
    for _ in range(2):  # the transport's error classes are looked up once
        with pytest.raises(KeyError, match="routing"):
            sender.send(TaskMessage(task_name="m.C.send"))


def test_send_driver_quotes_password_expect_scrubbed(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """A driver error quoting the URL or password is masked in our message."""
    url = f"redis://:{SECRET}@127.0.0.1:1/0"
    app = _app(clean_env, BROKER_URL=url)
    _publishing(clean_env, _failing(final=_refused(f"cannot reach {url} ({SECRET})")))
    with pytest.raises(BrokerUnavailableError) as raised:
        CeleryTaskSender(app).send(TaskMessage(task_name="m.C.send"))
    assert SECRET not in str(raised.value)
    assert "cannot reach redis://:**@127.0.0.1:1/0 (**)" in str(raised.value)


def test_send_user_app_without_timeout_key_expect_no_publish_timeout(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """Our publish timeout applies only when the app sets it."""
    seen: list[dict[str, Any]] = []

    def publish(self: TaskPublisher, *args: Any) -> Any:
        seen.append(args[-1])
        raise _refused()

    own = Celery("own", broker="memory://", set_as_current=False)
    built = _app(clean_env, BROKER_SOCKET_TIMEOUT="3")
    _publishing(clean_env, publish)
    for app in (own, built):
        with pytest.raises(BrokerUnavailableError):
            CeleryTaskSender(app).send(TaskMessage(task_name="m.C.send"))
    assert "timeout" not in seen[0]
    assert (seen[1]["timeout"], seen[1]["confirm_timeout"]) == (3.0, 3.0)


def test_scrub_expect_passwords_and_urls_masked_even_in_odd_urls() -> None:
    """Masking works on failover lists and survives URLs it cannot parse."""
    urls = f"amqp://u:{SECRET}@a//;amqp://u:{SECRET}2@b//"
    text = f"failed: amqp://u:{SECRET}@a// then {SECRET}2"
    assert SECRET not in scrub(text, urls, None)
    assert scrub("redis://[::1/0 down", "redis://[::1/0") == "<unparsable URL> down"
    assert masked_url(urls) == "amqp://u:**@a//;amqp://u:**@b//"
