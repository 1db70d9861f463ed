"""Dispatch aspects run inside spakky-auth's aspect, deterministically."""

import pytest
from spakky.auth import AuthContextNotFoundError
from spakky.auth.aspects import AsyncAuthorizationAspect, AuthorizationAspect
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext

import spakky.plugins.celery
from spakky.dispatch.celery import CeleryTaskResult

from . import plugin_protected_handlers
from .plugin_protected_handlers import ProtectedHandler


def _app() -> SpakkyApplication:
    return (
        SpakkyApplication(ApplicationContext())
        .load_plugins(include={spakky.plugins.celery.PLUGIN_NAME})
        .add(AuthorizationAspect)
        .add(AsyncAuthorizationAspect)
        .scan(plugin_protected_handlers)
        .start()
    )


def test_caller_without_auth_context_expect_refused_before_dispatch_every_time(
    memory_env: pytest.MonkeyPatch,
) -> None:
    """With spakky-auth's aspects loaded, they are always outermost on the caller."""
    for _ in range(8):
        app = _app()
        try:
            handler = app.container.get(ProtectedHandler)
            with pytest.raises(AuthContextNotFoundError):
                handler.secret()
            assert isinstance(handler.open(), CeleryTaskResult)
        finally:
            app.stop()
