"""An application whose own Celery class adds a header in ``send_task``.

The worker runs ``spakky-celery worker tests.e2e.apps.tenant:build_app``.
"""

from typing import Any

from celery import Celery, current_task
from spakky.core.application.application import SpakkyApplication
from spakky.core.pod.annotations.pod import Pod
from spakky.task import TaskHandler, task

from spakky.dispatch.celery import CeleryConfig, build_celery_app
from tests.support.apps import build_app as build


class TenantCelery(Celery):
    """Every task it sends carries the tenant, as a tenant-routing hook would."""

    def send_task(self, name: str, *args: Any, **options: Any) -> Any:  # type: ignore[override]
        headers = dict(options.pop("headers", None) or {})
        headers["tenant"] = "acme"
        return super().send_task(name, *args, headers=headers, **options)


@Pod()
def tenant_celery(config: CeleryConfig) -> Celery:
    """The application's own Celery app, of the subclass."""
    return build_celery_app(config, celery_class=TenantCelery)


@TaskHandler()
class TenantProbe:
    """Reports the tenant header of the message it runs from."""

    @task
    def tenant(self) -> object:
        request = current_task.request
        return (request.headers or {}).get("tenant")


def build_app() -> SpakkyApplication:
    """A fresh application on the subclass, from ``SPAKKY_CELERY__*``."""
    return build("celery", TenantProbe, first=(tenant_celery,))
