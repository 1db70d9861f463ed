"""What a transport plugin composes with: ``add_transport``, ``Fallback``, registration."""

import logging
from typing import Any, override

import pytest
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.core.pod.annotations.lazy import Lazy
from spakky.core.pod.annotations.pod import Pod
from spakky.task import TaskHandler, task

from spakky.dispatch.core import InvalidTaskDefinitionError
from spakky.dispatch.core.adapter import (
    Fallback,
    ITaskSender,
    TaskMessage,
    TaskRegistrationPostProcessor,
    TaskRegistry,
    TransportConflictError,
    add_transport,
)
from spakky.dispatch.core.aspects import AsyncTaskDispatchAspect, TaskDispatchAspect
from spakky.dispatch.core.testing import InMemoryTaskResult

from .dispatch_core_support import PORT_FAKES


@TaskHandler()
class Greeter:
    @task
    def greet(self, name: str) -> str:
        return f"hello {name}"


class Engine:
    """A client a transport needs, of which the application may bring its own."""

    def __init__(self, name: str) -> None:
        self.name = name


@Fallback()
@Lazy()  # type: ignore[arg-type]
@Pod(name="default_engine")
def default_engine() -> Engine:
    """The plugin's default; building it would fail in these tests."""
    raise AssertionError("the default engine must not be built")


@Pod(name="my_engine")
def my_engine() -> Engine:
    """The application's own engine."""
    return Engine("mine")


@Pod()
class OtherSender(ITaskSender):
    """Stands for a second transport's sender."""

    @override
    def send(self, message: TaskMessage) -> Any:
        raise NotImplementedError


def _app(*pods: Any) -> SpakkyApplication:
    app = SpakkyApplication(ApplicationContext())
    add_transport(app, (*PORT_FAKES, default_engine))
    for pod in pods:
        app.add(pod)
    return app


def test_add_transport_expect_core_aspects_and_registration() -> None:
    """The core's pods, the transport's, both aspects and the post-processor."""
    app = _app(Greeter).start()
    try:
        for pod in (TaskDispatchAspect, AsyncTaskDispatchAspect):
            assert app.container.contains(pod)
        processor = app.container.get(TaskRegistrationPostProcessor)
        registry = app.container.get(TaskRegistry)
        assert [b.method_name for b in registry] == ["greet"]
        processor.set_application_context(app.application_context)  # once only
        assert len(registry) == 1
        assert isinstance(app.container.get(Greeter).greet("a"), InMemoryTaskResult)
    finally:
        app.stop()


@Pod()
class Gauge:
    """A pod with a @task method that is not a @TaskHandler."""

    @task
    def read(self) -> int:
        return 1


def test_transport_component_expect_not_scanned_for_tasks_user_pod_refused() -> None:
    """Registration skips the @task check on the machinery's own pods (what
    ``add_transport`` adds) and keeps it for the application's."""
    machinery = SpakkyApplication(ApplicationContext())
    add_transport(machinery, (*PORT_FAKES, Gauge))
    machinery.add(Greeter).start()
    try:
        registry = machinery.container.get(TaskRegistry)
        assert [b.method_name for b in registry] == ["greet"]
    finally:
        machinery.stop()

    @Pod()
    class UserGauge:
        @task
        def read(self) -> int:
            return 1

    with pytest.raises(InvalidTaskDefinitionError, match="UserGauge"):
        _app(Greeter, UserGauge).start()


def test_add_transport_after_another_sender_expect_conflict_at_load() -> None:
    """A second transport plugin is refused when it loads."""
    app = SpakkyApplication(ApplicationContext()).add(OtherSender)
    with pytest.raises(TransportConflictError, match="ITaskSender") as raised:
        add_transport(app, PORT_FAKES)
    assert "load one transport plugin" in str(raised.value)


def test_second_sender_after_transport_expect_conflict_at_start() -> None:
    """A sender added after the transport is refused at start, naming both."""
    app = _app(Greeter, OtherSender)
    with pytest.raises(TransportConflictError) as raised:
        app.start()
    assert "OtherSender" in str(raised.value)
    assert "InMemoryTaskSender" in str(raised.value)


def test_fallback_with_user_pod_expect_user_pod_used_default_never_built() -> None:
    """A pod of the application wins over a ``@Fallback`` default, added before or after."""
    after = _app(Greeter, my_engine).start()
    before = SpakkyApplication(ApplicationContext()).add(my_engine)
    add_transport(before, (*PORT_FAKES, default_engine))
    before.add(Greeter).start()
    try:
        for app in (after, before):
            assert app.container.get(Engine).name == "mine"
    finally:
        after.stop()
        before.stop()


def test_fallback_alone_expect_default_used() -> None:
    """Without a pod of the application the default is what the type resolves to."""
    app = _app(Greeter).start()
    try:
        with pytest.raises(AssertionError, match="must not be built"):
            app.container.get(Engine)
    finally:
        app.stop()


def test_registration_without_tasks_expect_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An application with no task says so once, at start."""
    with caplog.at_level(logging.WARNING, logger="spakky.dispatch"):
        _app().start().stop()
    assert [r.levelno for r in caplog.records if r.name == "spakky.dispatch"] == [
        logging.WARNING
    ]
