"""An unsafe snapshot key stops the application before any signer is built."""

import base64

import pytest
import spakky.plugins.cryptography
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.plugins.cryptography import CryptographyAuthProviderConfig, Key

import spakky.plugins.celery
from spakky.dispatch.auth import SNAPSHOT_KEY_VARIABLE, WeakSnapshotKeyError

from . import plugin_handlers

SHORT = base64.urlsafe_b64encode(b"16-byte-key-here").decode()


def _start() -> SpakkyApplication:
    app = SpakkyApplication(ApplicationContext())
    app.load_plugins(
        include={
            spakky.plugins.celery.PLUGIN_NAME,
            spakky.plugins.cryptography.PLUGIN_NAME,
        }
    )
    return app.scan(plugin_handlers).start()


@pytest.mark.parametrize("value", ["", "%%%not-base64%%%", SHORT])
def test_plugin_unsafe_snapshot_key_expect_start_refused_without_value(
    memory_env: pytest.MonkeyPatch, value: str
) -> None:
    """Empty, malformed or 16-byte key: the start fails with our error, which
    never shows the value, and spakky-cryptography's settings (whose own error
    quotes it) are never built."""
    memory_env.setenv(SNAPSHOT_KEY_VARIABLE, value)
    built: list[bool] = []
    original = CryptographyAuthProviderConfig.__init__

    def spy(self: CryptographyAuthProviderConfig) -> None:
        built.append(True)
        original(self)

    memory_env.setattr(CryptographyAuthProviderConfig, "__init__", spy)
    with pytest.raises(WeakSnapshotKeyError) as caught:
        _start()
    assert built == []
    if value:
        assert value not in f"{caught.value}{caught.value!r}"


def test_plugin_safe_snapshot_key_expect_started(
    memory_env: pytest.MonkeyPatch,
) -> None:
    """A 32-byte key passes the check and reaches spakky-cryptography."""
    key = Key(size=32)
    memory_env.setenv(SNAPSHOT_KEY_VARIABLE, key.b64_urlsafe)
    app = _start()
    try:
        config = app.container.get(CryptographyAuthProviderConfig)
        assert config.snapshot_key == key
    finally:
        app.stop()
