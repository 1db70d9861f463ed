"""Redis: what a worker holds when its broker connection breaks, settled on reconnecting.

kombu's Redis transport emulates acknowledgements: a message a worker took is
recorded in the ``unacked`` hash until its acknowledgement removes it, and a
channel puts back the messages it still holds when it closes. When the
connection breaks because Redis went away, neither reaches Redis:

- the messages Celery drops on reconnecting (prefetched, waiting for a pool
  process or for their eta) stay in ``unacked``, and the acknowledgements the
  worker sends while Redis is away are lost; both wait there until a sweep
  finds them older than ``visibility_timeout`` (an hour by default), so a task
  its caller was told was sent runs an hour late, or a second time;
- worse, with kombu 5.7 and Celery 5.7 putting them back on close runs on a
  connection Celery already detached, raises ``AttributeError`` and stops the
  worker ("Unrecoverable error").

``redis_guard.GuardedQoS`` never restores or acknowledges through a detached
or broken connection: it records what it owes in the consumer's ``UnackedRecovery``,
which settles it through the next live channel, as soon as the worker is
connected again. Acknowledgements that failed are completed; messages of a
lost connection that no task of this worker is still running go back to the
head of their queue; a message popped whose ``unacked`` record could not be
written goes back too.
"""

import logging
from collections.abc import Callable
from typing import Any

from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads

logger = logging.getLogger(__name__)

type Busy = Callable[[Any], bool]
"""Whether a received message's task is still running in this worker."""


def _never(message: Any) -> bool:
    return False


class Detached(Exception):
    """A channel whose kombu connection is gone (closed or collected)."""


def attached(qos: Any) -> bool:
    """Whether ``qos``'s channel still has its kombu connection (it may be closed).

    A channel closing normally restores what it holds while still attached;
    Celery detaches a connection it lost (``Connection.collect``) before it
    closes it, and kombu then fails on every use of its channels.
    """
    transport = getattr(qos.channel, "connection", None)
    return getattr(transport, "client", None) is not None


def live(qos: Any) -> bool:
    """Whether ``qos``'s channel is attached and open."""
    return attached(qos) and not qos.channel.closed


class UnackedRecovery:
    """What one worker owes Redis for the messages it took, across connections.

    One per consumer. Every ``GuardedQoS`` registers here; those whose
    connection is gone are settled through a live one by ``settle``, which the
    consumer calls once it is connected again, and every live channel calls
    from its periodic sweep until nothing is left.
    """

    def __init__(self, busy: Busy = _never) -> None:
        self.busy = busy
        """Whether a message's task still runs here (its own ack settles it)."""
        self._channels: list[Any] = []
        self._acks: dict[str, None] = {}
        self._rejects: dict[str, bool] = {}
        self._unrecorded: dict[str, tuple[Any, str, str]] = {}

    def track(self, qos: Any) -> None:
        """Register the QoS of a new channel (held until nothing is owed for it)."""
        self._prune()
        self._channels.append(qos)

    def _prune(self) -> None:
        self._channels = [qos for qos in self._channels if live(qos) or qos._delivered]

    def current(self) -> Any:
        """The newest QoS whose channel is attached and open, or None."""
        for qos in reversed(self._channels):
            if live(qos):
                return qos
        return None

    def owes(self) -> int:
        """How many messages and acknowledgements are still to settle."""
        held = sum(
            tag not in qos._dirty for qos in self._orphans() for tag in qos._delivered
        )
        return held + len(self._acks) + len(self._rejects) + len(self._unrecorded)

    def ack_failed(self, tag: str) -> None:
        """The acknowledgement of ``tag`` did not reach Redis."""
        self._acks[tag] = None

    def reject_failed(self, tag: str, requeue: bool) -> None:
        """The rejection of ``tag`` did not reach Redis."""
        self._rejects[tag] = requeue

    def record_failed(self, tag: str, payload: Any, exchange: str, key: str) -> None:
        """``tag`` was popped but its ``unacked`` record may not exist."""
        self._unrecorded[tag] = (payload, exchange, key)

    def _orphans(self) -> list[Any]:
        return [qos for qos in self._channels if not live(qos)]

    def settle(self, qos: Any) -> None:
        """Settle what is owed through ``qos``, a QoS of a live channel.

        Raises the channel's connection errors; what was not settled stays
        owed for the next call. Any other error drops that one item with a
        log line (its message then waits for the visibility timeout, as it
        would without this).
        """
        done = {"acks": 0, "puts": 0, "held": 0}
        errors: tuple[type[BaseException], ...] = qos.channel.connection_errors

        def attempt(
            what: str, kind: str, action: Callable[..., object], *args: object
        ) -> None:
            try:
                action(*args)
            except errors:
                raise
            except Exception as error:  # one bad record must not stop the worker
                logger.error(
                    "Could not settle %s after reconnecting to Redis (%s); it "
                    "waits for the visibility timeout.",
                    what,
                    type(error).__name__,
                )
            else:
                done[kind] += 1

        for tag in list(self._acks):
            attempt("an acknowledgement", "acks", _ack_in_redis, qos, tag)
            del self._acks[tag]
        for tag, requeue in list(self._rejects.items()):
            kind = "puts" if requeue else "acks"
            attempt("a rejection", kind, reject_in_redis, qos, tag, requeue)
            del self._rejects[tag]
        for tag, copy in list(self._unrecorded.items()):
            attempt("a message", "puts", _put_back, qos, tag, copy)
            del self._unrecorded[tag]
        for orphan in self._orphans():
            orphan._flush()  # drops what was acknowledged or rejected since
            for tag, message in list(orphan._delivered.items()):
                if self.busy(message):
                    done["held"] += 1
                    continue  # its own acknowledgement or rejection settles it
                attempt("a message", "puts", qos.restore_by_tag, tag)
                orphan._delivered.pop(tag, None)
        self._prune()
        if done["acks"] or done["puts"]:
            logger.warning(
                "Connected to Redis again: completed %d acknowledgements that "
                "failed while it was away and put back %d messages this worker "
                "held (%d still running here); none waits for the visibility "
                "timeout.",
                done["acks"],
                done["puts"],
                done["held"],
            )


def _ack_in_redis(qos: Any, tag: str) -> None:
    qos._remove_from_indices(tag).execute()


def reject_in_redis(qos: Any, tag: str, requeue: bool) -> None:
    """Reject ``tag`` through ``qos``: requeue it, dead-letter it, or drop it."""
    if requeue:
        qos.restore_by_tag(tag, leftmost=True)
    elif getattr(qos.channel, "dead_letter_limit", 0):
        qos.channel.dead_letter_by_tag(tag)
    else:
        qos._remove_from_indices(tag).execute()


def _put_back(qos: Any, tag: str, copy: tuple[Any, str, str]) -> None:
    """Restore ``tag`` from ``unacked`` if recorded there, else from ``copy``."""

    def restore(pipe: Any) -> None:
        raw = pipe.hget(qos.unacked_key, tag)
        pipe.multi()
        qos._remove_from_indices(tag, pipe)
        payload, exchange, key = loads(bytes_to_str(raw)) if raw else copy
        qos.channel._do_restore_message(payload, exchange, key, pipe)

    with qos.channel.conn_or_acquire() as client:
        client.transaction(restore, qos.unacked_key)


__all__ = ["Detached", "UnackedRecovery", "attached", "live", "reject_in_redis"]
