"""A broker URL that is wrong, not a broker that is down: configuration errors.

Wrong credentials (a private Redis with ``requirepass``; the shared RabbitMQ
with a wrong password), an unknown virtual host and a Redis database index the
server does not have are ``BrokerConfigurationError``: they name the variable
to fix and never the password, on both transports. Before, Celery reported the
Redis password as ``PublishUnconfirmedError`` ("may have reached") and the
others as a refused message with a hint about queue limits and alarms.
"""

import os
from collections.abc import Callable
from typing import Any

import pytest

from spakky.dispatch.core import (
    BrokerConfigurationError,
    BrokerUnavailableError,
    TaskDispatchError,
)
from tests.e2e.apps.cli_layout import Mailer, celery_app, taskiq_app
from tests.faults.conftest import assert_no_secret
from tests.faults.servers import SECRET, RedisServer

WRONG = "wrong-pa55word-xyz"

BUILDERS = {"celery": celery_app, "taskiq": taskiq_app}
PREFIXES = {"celery": "SPAKKY_CELERY__", "taskiq": "SPAKKY_TASKIQ__"}


def _dispatch(
    transport: str, url: str, monkeypatch: pytest.MonkeyPatch
) -> BrokerConfigurationError:
    """Send one task to ``url`` on ``transport``; return the configuration error."""
    for name in list(os.environ):
        if name.upper().startswith(tuple(PREFIXES.values())):
            monkeypatch.delenv(name)
    prefix = PREFIXES[transport]
    monkeypatch.setenv(f"{prefix}BROKER_URL", url)
    monkeypatch.setenv(f"{prefix}CONNECT_TIMEOUT", "5")
    monkeypatch.setenv("SPAKKY_CELERY__BROKER_CONNECTION_TIMEOUT", "2")
    application = BUILDERS[transport]().start()
    try:
        handler: Any = application.container.get(Mailer)
        with pytest.raises(TaskDispatchError) as raised:
            handler.send("ada")
    finally:
        application.stop()
    error = raised.value
    assert isinstance(error, BrokerConfigurationError), repr(error)
    assert not isinstance(error, BrokerUnavailableError)
    text = str(error)
    assert f"fix {prefix}BROKER_URL" in text
    assert "alarms" not in text
    assert "may have reached" not in text
    return error


type Url = Callable[[RedisServer], str]

REDIS_AUTH: dict[str, Url] = {
    "wrong-password": lambda server: f"redis://:{WRONG}@127.0.0.1:{server.port}/0",
    "no-password": lambda server: f"redis://127.0.0.1:{server.port}/0",
}


@pytest.mark.parametrize("transport", ["celery", "taskiq"])
@pytest.mark.parametrize("case", list(REDIS_AUTH))
def test_redis_password_refused_expect_configuration_error_without_secret(
    private_redis: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    transport: str,
    case: str,
) -> None:
    """A private Redis with ``requirepass``: wrong or missing password."""
    error = _dispatch(transport, REDIS_AUTH[case](private_redis), monkeypatch)
    text = str(error)
    assert "refused the user name or password in the URL" in text
    assert f"127.0.0.1:{private_redis.port}" in text
    assert WRONG not in text
    assert_no_secret(text)


@pytest.mark.parametrize("transport", ["celery", "taskiq"])
def test_redis_db_index_out_of_range_expect_configuration_error(
    shared_redis: str, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    """Database 99 of a 16-database Redis (SELECT fails; nothing changes)."""
    error = _dispatch(transport, f"{shared_redis}/99", monkeypatch)
    assert "no database with the index in the URL" in str(error)


@pytest.mark.parametrize("transport", ["celery", "taskiq"])
def test_rabbitmq_wrong_password_expect_configuration_error_without_secret(
    shared_rabbitmq: str, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    """The shared RabbitMQ refuses a login with a wrong password (it stays as is)."""
    url = shared_rabbitmq.replace("guest:guest@", f"guest:{WRONG}@")
    error = _dispatch(transport, url, monkeypatch)
    text = str(error)
    assert "refused the user name or password in the URL" in text
    assert "guest:**@" in text
    assert WRONG not in text


@pytest.mark.parametrize("transport", ["celery", "taskiq"])
def test_rabbitmq_unknown_vhost_expect_configuration_error(
    shared_rabbitmq: str, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    """A virtual host the shared RabbitMQ does not have (none is created)."""
    url = shared_rabbitmq.removesuffix("//") + "/spakky-no-such-vhost"
    error = _dispatch(transport, url, monkeypatch)
    assert "virtual host" in str(error)


def test_private_redis_right_password_expect_dispatch_works(
    private_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same private Redis with its password accepts the task (the tests'
    control: the refusals above come from the URL, not from the server)."""
    monkeypatch.setenv("SPAKKY_CELERY__BROKER_URL", private_redis.url())
    application = celery_app().start()
    try:
        handler: Any = application.container.get(Mailer)
        assert handler.send("ada").task_id
    finally:
        application.stop()
    assert SECRET in private_redis.url()
