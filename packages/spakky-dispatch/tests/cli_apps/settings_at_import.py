"""A module whose import reads settings that reject their variable."""

from .settings import VaultSettings

SETTINGS = VaultSettings()
