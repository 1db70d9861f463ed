"""Fixtures for the taskiq adapter's own tests."""

import os
from collections.abc import Callable, Iterator

import pytest

from spakky.dispatch.taskiq import BrokerLoop, TaskiqConfig

from .taskiq_fakes import RecordingBroker


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No ``SPAKKY_TASKIQ__*`` variable leaks in from the developer's shell."""
    for name in list(os.environ):
        if name.upper().startswith("SPAKKY_TASKIQ__"):
            monkeypatch.delenv(name)
    return monkeypatch


type ConfigFactory = Callable[..., TaskiqConfig]


@pytest.fixture
def make_config(clean_env: pytest.MonkeyPatch) -> ConfigFactory:
    """``make_config(broker_url="memory://", ...)``: a config from these variables."""

    def build(**settings: str) -> TaskiqConfig:
        for name, value in settings.items():
            clean_env.setenv(f"SPAKKY_TASKIQ__{name.upper()}", value)
        return TaskiqConfig()

    return build


@pytest.fixture
def loops() -> Iterator[Callable[..., BrokerLoop]]:
    """``loops(broker, **settings)``: broker loops stopped after the test."""
    made: list[BrokerLoop] = []
    saved = dict(os.environ)

    def build(broker: object | None = None, **settings: str) -> BrokerLoop:
        for name, value in settings.items():
            os.environ[f"SPAKKY_TASKIQ__{name.upper()}"] = value
        try:
            config = TaskiqConfig()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        made.append(BrokerLoop(broker or RecordingBroker(), config))  # type: ignore[arg-type]
        return made[-1]

    yield build
    for loop in made:
        loop.stop()
