"""Fixtures for the Celery adapter's own tests."""

import pytest


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No ``SPAKKY_CELERY__*`` variable leaks in from the developer's shell."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("SPAKKY_CELERY__"):
            monkeypatch.delenv(name)
    return monkeypatch
