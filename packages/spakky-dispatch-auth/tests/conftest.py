"""Fixtures of the auth adapter's unit tests: a clean environment, started apps."""

import os
from collections.abc import Callable, Iterator

import pytest
from spakky.core.pod.annotations.pod import PodType
from spakky.plugins.cryptography import Key

from .auth_fakes import Harness, build_app

SNAPSHOT_KEY = Key(size=32).b64_urlsafe
"""The HS256 key shared by the 'dispatching' and 'worker' side of these tests."""

_OWNED_PREFIXES = (
    "SPAKKY_DISPATCH_AUTH__",
    "SPAKKY_CRYPTOGRAPHY_",
    "SPAKKY_AUTH_SNAPSHOT_PROPAGATION_",
)


@pytest.fixture(autouse=True)
def auth_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Propagation on, one shared snapshot key, default retry policy."""
    for name in list(os.environ):
        if name.upper().startswith(_OWNED_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY", SNAPSHOT_KEY)
    monkeypatch.setenv("SPAKKY_AUTH_SNAPSHOT_PROPAGATION_ENABLED", "true")
    return monkeypatch


type AppFactory = Callable[..., Harness]


@pytest.fixture
def make_app() -> Iterator[AppFactory]:
    """Start applications with the auth adapter; stopped after the test."""
    started: list[Harness] = []

    def build(*pods: PodType, crypto: bool = True) -> Harness:
        harness = build_app(*pods, crypto=crypto)
        started.append(harness)
        return harness

    yield build
    for harness in started:
        harness.stop()
