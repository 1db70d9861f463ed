"""The transactional-dispatch benchmark's application (``-A benchmarks.celery.outbox_app:celery``).

spakky-data, spakky-sqlalchemy (PostgreSQL), spakky-celery and the outbox.
The task records when it started (``time.time()``) in Redis under the key named
by ``BENCH_OUTBOX_KEY``.
"""

import os
import time
from typing import Any

import redis
import spakky.data
import spakky.plugins.sqlalchemy
from celery import Celery
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.core.pod.annotations.pod import Pod
from spakky.data.aspects.transactional import Transactional
from spakky.plugins.sqlalchemy.orm.table import AbstractTable
from spakky.plugins.sqlalchemy.persistency.session_manager import SessionManager
from spakky.task import TaskHandler, task
from spakky.task.interfaces.task_result import ITaskResult
from sqlalchemy import Text
from sqlalchemy.orm import Mapped, mapped_column

import spakky.dispatch.outbox
import spakky.plugins.celery
from benchmarks.celery.env import REDIS_URL


class BenchOrder(AbstractTable):
    """A row written in the same transaction as the dispatch."""

    __tablename__ = "bench_orders"

    id: Mapped[str] = mapped_column(Text, primary_key=True)


@TaskHandler()
class StartTimes:
    @task
    def started(self, sample: str) -> None:
        client = redis.Redis.from_url(REDIS_URL)
        client.hset(os.environ["BENCH_OUTBOX_KEY"], sample, repr(time.time()))


@Pod()
class Place:
    """Writes a row and dispatches, in one transaction or after it."""

    def __init__(self, sessions: SessionManager, tasks: StartTimes) -> None:
        self._sessions = sessions
        self._tasks = tasks

    @Transactional()
    def in_transaction(self, sample: str) -> ITaskResult[Any]:
        self._sessions.session.add(BenchOrder(id=sample))
        return self._tasks.started(sample)  # type: ignore[return-value]

    @Transactional()
    def row_only(self, sample: str) -> None:
        self._sessions.session.add(BenchOrder(id=sample))


def build_app() -> SpakkyApplication:
    """The application, from the environment the benchmark sets."""
    return (
        SpakkyApplication(ApplicationContext())
        .load_plugins(
            include={
                spakky.data.PLUGIN_NAME,
                spakky.plugins.sqlalchemy.PLUGIN_NAME,
                spakky.plugins.celery.PLUGIN_NAME,
                spakky.dispatch.outbox.PLUGIN_NAME,
            }
        )
        .add(StartTimes)
        .add(Place)
        .start()
    )


def __getattr__(name: str) -> Celery:
    if name != "celery":
        raise AttributeError(name)
    return build_app().container.get(Celery)
