"""The endpoint helpers every transport's ``ITaskEndpointRegistrar`` uses."""

from typing import Any

import pytest
from spakky.core.pod.annotations.pod import Pod
from spakky.task import TaskHandler, task

from spakky.dispatch.core.adapter import (
    DuplicateTaskNameError,
    TaskBinding,
    named_after,
    refuse_foreign_task,
)


@TaskHandler()
class Billing:
    @task
    def charge(self, amount: int) -> int:
        """Charge the customer."""
        return amount


BINDING = TaskBinding.of(Pod.get(Billing), "charge")


def test_named_after_expect_handler_method_name_module_and_doc() -> None:
    """The endpoint reads as the handler method in logs and tracebacks."""

    def run(*args: Any) -> object:
        return args

    assert named_after(BINDING, run) is run
    assert run.__name__ == "charge"
    assert run.__qualname__ == "Billing.charge"
    assert run.__module__ == __name__
    assert run.__doc__ == "Charge the customer."


def test_refuse_foreign_task_expect_only_someone_elses_task_refused() -> None:
    """Nothing there, or an endpoint of ours: fine; another task: refused, named."""
    refuse_foreign_task(BINDING, None, ours=False, registry="broker")
    refuse_foreign_task(BINDING, object(), ours=True, registry="broker")
    with pytest.raises(DuplicateTaskNameError) as raised:
        refuse_foreign_task(BINDING, object(), ours=False, registry="Example app")
    text = str(raised.value)
    assert f"{BINDING.name} is already a task of this Example app" in text
    assert "rename that task or the handler method" in text
