"""Builds a measured Spakky application for any plugin: ours or the old one."""

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

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
    import them (the idle-RSS and import rows load neither).
    """
    plugins = {transport_plugin}
    if tracing:
        from spakky.tracing import PLUGIN_NAME as TRACING

        plugins.add(TRACING)
    if auth:
        from spakky.plugins.cryptography import PLUGIN_NAME as CRYPTOGRAPHY

        plugins.add(CRYPTOGRAPHY)
    app = SpakkyApplication(ApplicationContext()).load_plugins(include=plugins)  # type: ignore[arg-type]
    return app.add(handler).start()


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
