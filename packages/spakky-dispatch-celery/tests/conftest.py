"""Fixtures for the Celery adapter's own tests."""

from collections.abc import Iterator

import pytest


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No ``SPAKKY_CELERY__*`` variable leaks in from the developer's shell."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("SPAKKY_CELERY__"):
            monkeypatch.delenv(name)
    yield monkeypatch
