"""Startup validation: every task's auth plan is compiled before the app serves."""

import threading
from typing import override

from spakky.core.pod.annotations.order import Order
from spakky.core.pod.annotations.pod import Pod
from spakky.core.service.interfaces.service import IService

from spakky.dispatch.auth.error import InvalidTaskAuthDefinitionError
from spakky.dispatch.auth.propagator import AuthSnapshotPropagator
from spakky.dispatch.core.adapter import TaskRegistry


@Order(0)
@Pod()
class TaskAuthStartupValidationService(IService):
    """Compiles the auth plan of every registered task when the application starts.

    Plans are then looked up, never recomputed, per execution. A task whose
    auth metadata cannot be enforced on the worker (a protected ``@schedule``
    method, a task both public and protected, an unknown requirement) stops the
    application from starting, in the dispatching, worker and beat processes
    alike, with an error naming every such method.
    """

    _registry: TaskRegistry
    _propagator: AuthSnapshotPropagator

    def __init__(
        self, registry: TaskRegistry, propagator: AuthSnapshotPropagator
    ) -> None:
        self._registry = registry
        self._propagator = propagator

    @override
    def set_stop_event(self, stop_event: threading.Event) -> None:
        """Nothing runs in the background, so there is nothing to stop."""

    @override
    def start(self) -> None:
        """Compile every task's plan.

        Raises:
            ProtectedScheduleError: Only protected ``@schedule`` methods failed.
            InvalidTaskAuthDefinitionError: Some task's auth metadata cannot be
                enforced; the detail lists every failing task.
        """
        errors: list[InvalidTaskAuthDefinitionError] = []
        for task in sorted(self._registry, key=lambda binding: binding.name):
            try:
                self._propagator.plan_for(task)
            except InvalidTaskAuthDefinitionError as error:
                errors.append(error)
        if not errors:
            return
        if len(errors) == 1:
            raise errors[0]
        kind = type(errors[0])
        if all(type(error) is kind for error in errors):
            raise kind("; ".join(str(error.detail) for error in errors))
        raise InvalidTaskAuthDefinitionError(" | ".join(map(str, errors)))

    @override
    def stop(self) -> None:
        """Nothing to release."""
