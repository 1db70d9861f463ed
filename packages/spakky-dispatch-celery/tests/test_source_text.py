"""``source_text``: the guards' cheap reading of a function's source.

It must give what ``inspect.getsource`` gives on every function a guard
hashes (so the stored digests mean the same thing), and a changed body must
change it.
"""

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from amqp import method_framing
from celery import Celery
from celery.app.amqp import AMQP
from kombu import Connection
from kombu.message import Message
from kombu.transport import redis as kombu_redis

from spakky.dispatch.celery import redis_guard, redis_transport
from spakky.dispatch.core.adapter import source_text


def _guarded() -> dict[str, Callable[..., Any]]:
    """Every function whose source a guard reads or hashes."""
    amqp_type: Any = AMQP
    channel: Any = kombu_redis.Channel
    return {
        "Celery.send_task": Celery.send_task,
        "AMQP._create_task_sender": amqp_type._create_task_sender,
        "Connection.__init__": Connection.__init__,
        "kombu.message.Message.__init__": Message.__init__,
        "amqp.method_framing.frame_handler": method_framing.frame_handler,
        **redis_guard._redis_sources(),
        **{
            f"Channel.{name}": getattr(channel, name)
            for name in redis_transport.CHANNEL_SHA256
        },
    }


def _collapsed(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def fresh() -> Iterator[None]:
    """``source_text``'s cache empty for the test, and again after it."""
    source_text.cache_clear()
    yield
    source_text.cache_clear()


@pytest.mark.usefixtures("fresh")
@pytest.mark.parametrize("name", sorted(_guarded()))
def test_source_text_guarded_function_expect_inspect_getsource_text(
    name: str,
) -> None:
    """On each guarded function the text is ``inspect.getsource``'s."""
    function = _guarded()[name]
    assert _collapsed(source_text(function)) == _collapsed(inspect.getsource(function))
