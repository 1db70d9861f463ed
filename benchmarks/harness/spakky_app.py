"""Builds a measured Spakky application for any plugin: ours or the old one."""

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext

from benchmarks.harness.calls import auth_env, signed, traced
from benchmarks.harness.env import environment


def build_application(
    transport_plugin: object,
    handler: type,
    *,
    tracing: bool = False,
    auth: bool = False,
) -> SpakkyApplication:
    """A started application of ``transport_plugin`` with ``handler``.

    The tracing and auth plugins are loaded on demand, and their modules are
    imported only then, as an application that does not use them would not
    import them (the idle-RSS and import rows load neither). With auth, the
    protected twin of the handler is added too (``measured_handler``).
    """
    plugins = {transport_plugin}
    if tracing:
        from spakky.tracing import PLUGIN_NAME as TRACING

        plugins.add(TRACING)
    if auth:
        from spakky.plugins.cryptography import PLUGIN_NAME as CRYPTOGRAPHY

        plugins.add(CRYPTOGRAPHY)
    app = SpakkyApplication(ApplicationContext()).load_plugins(include=plugins)  # type: ignore[arg-type]
    app.add(handler)
    if auth:
        from benchmarks.harness.protected import ProtectedBenchHandler

        app.add(ProtectedBenchHandler)
    return app.start()


def measured_type(variant: str, *, protected: bool | None = None) -> type:
    """The handler class whose ``work`` / ``awork`` the variant's caller calls:
    the protected twin when the caller signs a snapshot (unless ``protected``
    says otherwise: a signed-in caller of an unprotected task)."""
    if signed(variant) if protected is None else protected:
        from benchmarks.harness.protected import ProtectedBenchHandler

        return ProtectedBenchHandler
    from benchmarks.harness.handler import BenchHandler

    return BenchHandler


def measured_handler(
    app: SpakkyApplication, variant: str, *, protected: bool | None = None
) -> Any:
    """The variant's handler (``measured_type``) in ``app``."""
    return app.container.get(measured_type(variant, protected=protected))


type Build = Callable[..., SpakkyApplication]
"""``build(tracing=..., auth=...)`` of one plugin's application."""


@contextmanager
def started(
    build: Build, env: Mapping[str, str | None], variant: str
) -> Iterator[SpakkyApplication]:
    """The application of ``variant`` built in ``env``, stopped after the block."""
    with environment(**env, **auth_env(variant)):
        app = build(tracing=traced(variant), auth=signed(variant))
    try:
        yield app
    finally:
        app.stop()
