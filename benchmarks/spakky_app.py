"""Builds a measured Spakky application for either transport's plugin."""

from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext


def build_application(
    transport_plugin: str,
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
    app = SpakkyApplication(ApplicationContext()).load_plugins(include=plugins)
    return app.add(handler).start()
