"""How each transport's worker and scheduler are started for the scenarios."""

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import redis

from spakky.dispatch.celery import CeleryTaskResult
from spakky.dispatch.taskiq import TaskiqTaskResult
from tests.support.brokers import Broker
from tests.support.worker import quiet_options


@dataclass(frozen=True, slots=True, kw_only=True)
class Transport:
    """One transport plugin, driven through its own command line."""

    name: str
    """``celery`` or ``taskiq``: the plugin the scenario application loads."""

    cli: str
    """Module of the plugin's command line."""

    env_prefix: str
    """Prefix of the transport's settings."""

    queue_setting: str
    """Setting (after the prefix) naming the queue workers consume."""

    worker_ready: str
    """Log line printed once the worker consumes."""

    scheduler_command: str
    """The command that runs ``@schedule`` methods."""

    scheduler_ready: str
    """Log line printed once the scheduler runs."""

    scheduler_sent: str
    """The scheduler's log line for a message it sends; ``{}`` is the task name."""

    handle_type: type
    """The class of the result handles a ``@task`` call returns."""

    failed_state: str | None
    """What a failed task's handle says in ``state`` (a Celery extra), if it has one."""

    result_key: str
    """The result backend's key of a task's result; ``{}`` is the task id."""

    sync_tasks_share_a_thread: bool
    """Whether one worker process runs every sync task on the same thread.

    Celery's solo pool does; taskiq runs sync tasks in its event loop's thread
    pool (see docs/choosing-a-transport.md).
    """

    @property
    def target(self) -> str:
        """The scenario application's factory for this transport."""
        return self.variant_target("app")

    def variant_target(self, variant: str) -> str:
        """The factory of a variant of the scenario application (``app``, ``b3``, ...)."""
        return f"tests.scenarios.apps.app:{self.name}_{variant}"

    def env(self, broker: Broker, queue: str) -> dict[str, str]:
        """Settings pointing at ``broker``, its result backend and ``queue``."""
        return {
            f"{self.env_prefix}BROKER_URL": broker.url,
            f"{self.env_prefix}RESULT_BACKEND": broker.backend_url,
            f"{self.env_prefix}{self.queue_setting}": queue,
        }

    def worker_argv(self, target: str | None = None) -> list[str]:
        """The worker command line for ``target`` (the scenario application)."""
        argv = [sys.executable, "-m", self.cli, "worker", target or self.target]
        if self.name == "celery":
            return [*argv, "--pool", "solo", *quiet_options("worker")]
        return [*argv, "--workers", "1"]

    def scheduler_argv(self, folder: Path) -> list[str]:
        """The scheduler command line; ``folder`` may hold its state."""
        argv = [sys.executable, "-m", self.cli, self.scheduler_command, self.target]
        if self.name == "celery":
            schedule = str(folder / "beat-schedule")
            return [
                *argv,
                "--schedule",
                schedule,
                "--max-interval",
                "1",
                *quiet_options("beat"),
            ]
        return argv


CELERY = Transport(
    name="celery",
    cli="spakky.plugins.celery.cli",
    env_prefix="SPAKKY_CELERY__",
    queue_setting="DEFAULT_QUEUE",
    worker_ready="ready.",
    scheduler_command="beat",
    scheduler_ready="beat: Starting",
    scheduler_sent="Sending due task {0} ({0})",
    handle_type=CeleryTaskResult,
    failed_state="FAILURE",
    result_key="celery-task-meta-{}",
    sync_tasks_share_a_thread=True,
)
TASKIQ = Transport(
    name="taskiq",
    cli="spakky.plugins.taskiq.cli",
    env_prefix="SPAKKY_TASKIQ__",
    queue_setting="QUEUE",
    worker_ready="Listening started.",
    scheduler_command="scheduler",
    scheduler_ready="Startup completed.",
    scheduler_sent="Sending task {} with schedule_id",
    handle_type=TaskiqTaskResult,
    failed_state=None,
    result_key="{}",
    sync_tasks_share_a_thread=False,
)
TRANSPORTS = (CELERY, TASKIQ)


def drop_taskiq_queue(broker: Broker, queue: str) -> None:
    """Delete a taskiq queue of the scenarios and its dead letters.

    (A RabbitMQ quorum queue holds resources of its own; none is left behind.)
    """
    dead = f"{queue}.dead_letter"
    if broker.url.startswith("redis"):
        redis.Redis.from_url(broker.url).delete(queue, dead)
        return

    async def drop() -> None:
        connection = await aio_pika.connect(broker.url)
        async with connection:
            channel = await connection.channel()
            for name in (queue, dead):
                await channel.queue_delete(name)

    asyncio.run(drop())
