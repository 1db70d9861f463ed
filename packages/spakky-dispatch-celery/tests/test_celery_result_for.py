"""CeleryTaskSender.result_for: a handle on a task id, without sending anything."""

import uuid

import pytest
from kombu import Connection, Queue

from spakky.dispatch.celery import (
    CeleryConfig,
    CeleryTaskResult,
    CeleryTaskSender,
    build_celery_app,
)
from spakky.dispatch.core.adapter import TaskMessage


def test_result_for_expect_handle_on_that_id_and_nothing_sent(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """The handle is the app's ``AsyncResult`` for the id; the queue stays empty."""
    clean_env.setenv("SPAKKY_CELERY__BROKER_URL", "memory://")
    clean_env.setenv("SPAKKY_CELERY__DEFAULT_QUEUE", f"q-{uuid.uuid4().hex}")
    app = build_celery_app(CeleryConfig())
    sender = CeleryTaskSender(app)
    handle = sender.result_for("later-id")
    assert isinstance(handle, CeleryTaskResult)
    assert handle.task_id == "later-id"
    assert handle.async_result.app is app
    sent = sender.send(TaskMessage(task_name="m.C.f", task_id="later-id"))
    assert sent.task_id == handle.task_id
    with Connection(app.conf.broker_url) as connection:
        queue = connection.SimpleQueue(Queue(app.conf.task_default_queue))
        assert queue.qsize() == 1  # only the one send(), not result_for
        queue.close()
