"""Settings that reject their variable; the rejected value is a secret."""

from typing import ClassVar

from pydantic_settings import BaseSettings, SettingsConfigDict
from spakky.core.application.application import SpakkyApplication


class VaultSettings(BaseSettings):
    """Reads ``SPAKKY_CLITEST_VAULT_TOKEN``."""

    model_config: ClassVar[SettingsConfigDict] = SettingsConfigDict(
        env_prefix="SPAKKY_CLITEST_"
    )

    vault_token: int = 0


def build() -> SpakkyApplication:
    """Reading the settings fails before any application exists."""
    VaultSettings()
    raise AssertionError("the settings were expected to fail")


def at_start() -> SpakkyApplication:
    """Fails with a non-settings error, quoting a secret of the environment."""
    import os

    raise RuntimeError(f"cannot open vault with {os.environ['SPAKKY_CLITEST_KEY']}")
