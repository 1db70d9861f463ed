"""kombu's Redis transport with one synchronous Redis client per channel.

This module is the one place that overrides kombu's private Redis channel
method ``Channel._create_client``. kombu's Redis channel builds a new
``redis.Redis`` client for every message it publishes (``conn_or_acquire``),
and building one costs about as much as a third of the publish itself:
redis-py fills its table of response callbacks on every construction. The
channel here builds that client once (with kombu's own ``_create_client``)
and reuses it. The client shares the channel's connection pool, as kombu's
own clients do, and is rebuilt when the channel gets a new pool; a redis-py
client is safe to share between the threads that may use one channel. Only
``TaskPublisher``'s connections use this transport, so workers and
``send_task`` keep kombu's.

Guard: ``reusing_transport_problem`` checks once that the installed kombu is
the series this override was compared against and that ``_create_client`` and
``conn_or_acquire`` are the code it was written for (a SHA-256 of their
sources, whitespace-normalised). When they are not, ``reusing_transport``
logs one warning and returns None: kombu's own transport is used.
``tests/test_redis_transport.py`` compares what a publish leaves in Redis
through both transports. After updating kombu, re-read the two methods' diff,
run that test and update ``CHANNEL_SHA256``.
"""

import inspect
import logging
from functools import cache
from typing import Any, Final

import kombu
from kombu.transport import redis as kombu_redis

from spakky.dispatch.core.adapter import FallbackWarning, changed_checks, source_digest

logger = logging.getLogger(__name__)

KOMBU_SERIES: Final = frozenset({(5, 7)})
"""kombu ``(major, minor)`` versions this override was compared against."""

CHANNEL_SHA256: Final = {
    "_create_client": "1c0514d5617a94907b0c7de17cd4278ed3378fdb09fc915f64585c52418ce09c",
    "conn_or_acquire": "02aeb5d8755478e0be91fab767ee4d113c587af2261ebda5ca09e433cd449587",
}
"""SHA-256 of the sources of the kombu Redis channel methods this relies on."""


class ClientReusingChannel(kombu_redis.Channel):
    """A kombu Redis channel that builds its synchronous client once."""

    _sync_client: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        build: Any = super()._create_client  # type: ignore[misc]  # not in kombu's stubs
        if asynchronous:
            return build(asynchronous=True)
        pool = self.pool
        client = self._sync_client
        if client is None or client.connection_pool is not pool:
            client = self._sync_client = build()
        return client


class ClientReusingTransport(kombu_redis.Transport):
    """kombu's Redis transport, with ``ClientReusingChannel`` channels."""

    Channel = ClientReusingChannel


@cache
def reusing_transport_problem() -> str | None:
    """Why ``ClientReusingChannel`` does not fit the installed kombu, or None."""
    installed: Any = kombu  # kombu's stubs do not declare its version
    if tuple(installed.VERSION)[:2] not in KOMBU_SERIES:
        return (
            f"kombu {installed.__version__} is not a series the override was checked on"
        )
    channel: Any = kombu_redis.Channel
    try:
        parameters = inspect.signature(channel._create_client).parameters
        digests = {
            name: source_digest(getattr(channel, name)) for name in CHANNEL_SHA256
        }
        checks = {
            "Channel._create_client(asynchronous=False)": list(parameters)
            == ["self", "asynchronous"]
            and parameters["asynchronous"].default is False,
            "Channel.pool": isinstance(
                inspect.getattr_static(channel, "pool"), property
            ),
            **{
                f"Channel.{name}": digests[name] == digest
                for name, digest in CHANNEL_SHA256.items()
            },
        }
    except (AttributeError, TypeError, OSError, ValueError) as error:
        return f"kombu changed ({type(error).__name__})"
    return changed_checks(checks)


_warn = FallbackWarning(
    logger,
    "spakky-celery: this kombu differs from the one its Redis client reuse "
    "was written for (%s); tasks are published on kombu's own Redis "
    "transport, which is correct but slower. Pin kombu to 5.7.x or update "
    "spakky-celery.",
)
"""Logs the probe's finding once per process."""


def reusing_transport() -> type[Any] | None:
    """``ClientReusingTransport``, or None (with one warning) when kombu changed."""
    problem = reusing_transport_problem()
    if problem is not None:
        _warn(problem)
        return None
    return ClientReusingTransport
