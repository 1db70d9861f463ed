"""Helpers for the application modules that worker processes import."""

from collections.abc import Callable

from celery import Celery
from spakky.core.application.application import SpakkyApplication


def celery_attributes(
    **targets: Callable[[], SpakkyApplication],
) -> Callable[[str], Celery]:
    """A module ``__getattr__`` serving each target's Celery app, built on first use.

    ``__getattr__ = celery_attributes(celery=build_app)`` lets a worker run
    ``-A package.module:celery`` while importing the module builds nothing.
    """
    built: dict[str, Celery] = {}

    def attribute(name: str) -> Celery:
        if name not in targets:
            raise AttributeError(name)
        if name not in built:
            built[name] = targets[name]().container.get(Celery)
        return built[name]

    return attribute
