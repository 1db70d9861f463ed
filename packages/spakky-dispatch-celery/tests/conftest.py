"""Fixtures for the Celery adapter's own tests."""

import os
import socket

import pytest


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No ``SPAKKY_CELERY__*`` variable leaks in from the developer's shell."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("SPAKKY_CELERY__"):
            monkeypatch.delenv(name)
    return monkeypatch


REDIS_URL = "redis://127.0.0.1:6379/9"
"""The shared Redis of the broker tests (a database of their own)."""


@pytest.fixture
def redis_url() -> str:
    """``REDIS_URL`` (skipped without Redis, failing under ``CI=true``)."""
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Redis is not reachable on 127.0.0.1:6379; CI must start it")
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    return REDIS_URL
