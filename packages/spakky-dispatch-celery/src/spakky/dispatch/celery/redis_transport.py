"""kombu's Redis transport with one synchronous Redis client per channel.

kombu's Redis channel builds a new ``redis.Redis`` client for every message it
publishes (``conn_or_acquire``), and building one costs about as much as a
third of the publish itself: redis-py fills its table of response callbacks on
every construction. The channel here builds that client once and reuses it.
The client shares the channel's connection pool, as kombu's own clients do,
and is rebuilt when the channel gets a new pool; a redis-py client is safe to
share between the threads that may use one channel. Only ``TaskPublisher``'s
connections use this transport, so workers and ``send_task`` keep kombu's.
"""

from typing import Any

from kombu.transport import redis as kombu_redis


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
