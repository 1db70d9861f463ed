"""Small helpers shared by the Celery adapter tests."""

import socket

from celery import Celery

from spakky.dispatch.celery import CeleryConfig, build_celery_app


def free_port() -> int:
    """A loopback TCP port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def memory_app(**env: str) -> Celery:
    """A Celery app on the in-memory broker, built like the plugin builds it."""
    import os

    old = {k: os.environ.get(k) for k in env}
    os.environ.update({f"SPAKKY_CELERY__{k.upper()}": v for k, v in env.items()})
    os.environ.setdefault("SPAKKY_CELERY__BROKER_URL", "memory://")
    try:
        return build_celery_app(CeleryConfig())
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(f"SPAKKY_CELERY__{key.upper()}", None)
