"""TaskiqTaskSender.result_for: a handle on a task id, without sending anything."""

from typing import Any

from taskiq import InMemoryBroker, TaskiqResult
from taskiq.brokers.inmemory_broker import InmemoryResultBackend

from spakky.dispatch.core.adapter import TaskMessage
from spakky.dispatch.taskiq import TaskiqTaskResult, TaskiqTaskSender

from .taskiq_fakes import RecordingBroker
from .test_taskiq_sender_result import Loops


def test_result_for_expect_handle_reading_that_ids_stored_result(
    loops: Loops,
) -> None:
    """The handle reads the result stored under the id; the broker gets nothing."""
    broker = InMemoryBroker()
    backend: InmemoryResultBackend[Any] = InmemoryResultBackend()
    backend.results["later-id"] = TaskiqResult(
        is_err=False, return_value="done", execution_time=0.1
    )
    broker.with_result_backend(backend)
    sender = TaskiqTaskSender(loops(broker))
    handle = sender.result_for("later-id")
    assert isinstance(handle, TaskiqTaskResult)
    assert handle.task_id == "later-id"
    assert handle.get(timeout=1) == "done"


def test_result_for_sent_id_expect_same_task_as_send_handle(loops: Loops) -> None:
    """For an id given to ``send``, both handles name the same task."""
    broker = RecordingBroker()
    sender = TaskiqTaskSender(loops(broker))
    sent = sender.send(TaskMessage(task_name="m.C.f", task_id="fixed-id"))
    assert sender.result_for("fixed-id").task_id == sent.task_id == "fixed-id"
    assert len(broker.sent) == 1
