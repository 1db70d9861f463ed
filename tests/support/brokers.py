"""Real brokers on loopback: which exist, and URLs isolated per test run."""

import os
import socket
from dataclasses import dataclass

import pytest

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
RABBIT_HOST, RABBIT_PORT = "127.0.0.1", 5672


@dataclass(frozen=True, slots=True)
class Broker:
    """A broker the end-to-end tests run against."""

    name: str
    url: str
    backend_url: str


def reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require(host: str, port: int, what: str) -> None:
    """Skip when ``what`` is not running, except under ``CI=true`` where it fails."""
    if reachable(host, port):
        return
    message = f"{what} is not reachable on {host}:{port}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; CI must start it (see .ci/run)")
    pytest.skip(message)


REDIS = Broker(
    name="redis",
    url=f"redis://{REDIS_HOST}:{REDIS_PORT}/11",
    backend_url=f"redis://{REDIS_HOST}:{REDIS_PORT}/12",
)
RABBITMQ = Broker(
    name="rabbitmq",
    url=f"amqp://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}//",
    backend_url=f"redis://{REDIS_HOST}:{REDIS_PORT}/13",
)


def require_broker(broker: Broker) -> None:
    """Skip (or fail under CI) unless ``broker`` and its result backend run."""
    require(REDIS_HOST, REDIS_PORT, "Redis")
    if broker is RABBITMQ:
        require(RABBIT_HOST, RABBIT_PORT, "RabbitMQ")
