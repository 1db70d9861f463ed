"""The environment of a benchmark run: variables, names, reachable services."""

import os
import socket
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import urlsplit

RABBIT_URL = "amqp://guest:guest@127.0.0.1:5672//"
DEFAULT_PORTS = {"redis": 6379, "amqp": 5672, "postgresql+psycopg": 5432}


def reachable(url: str) -> bool:
    """Whether the service of ``url`` accepts TCP connections (memory: always)."""
    parts = urlsplit(url)
    if parts.scheme == "memory":
        return True
    address = (parts.hostname or "127.0.0.1", parts.port or DEFAULT_PORTS[parts.scheme])
    try:
        with socket.create_connection(address, timeout=0.5):
            return True
    except OSError:
        return False


def reachable_brokers(
    urls: Mapping[str, str], names: Iterable[str], section: str
) -> Iterator[tuple[str, str]]:
    """The brokers of ``names`` (and their URLs) that are reachable; the others
    are skipped, saying so."""
    for name in names:
        if reachable(urls[name]):
            yield name, urls[name]
        else:
            print(f"  skipping {section} on {name}: not reachable")


def unique(prefix: str) -> str:
    """A queue or key name no other run uses."""
    return f"spakky-bench-{prefix}-{uuid.uuid4().hex[:8]}"


def present(values: dict[str, str | None]) -> dict[str, str]:
    """``values`` without the variables set to None (to be removed)."""
    return {name: value for name, value in values.items() if value is not None}


@contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Set (or, for None, remove) environment variables until the block ends."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        _apply(values)
        yield
    finally:
        _apply(saved)


def _apply(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
