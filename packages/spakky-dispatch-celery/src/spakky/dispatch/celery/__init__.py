"""spakky-dispatch-celery: the Celery adapter of spakky-dispatch.

Sending through ``send_task``, schedules as ``beat_schedule`` entries, worker
endpoints on the application's own Celery app, ``CeleryConfig`` and the
Celery-backed ``ITaskResult``.
"""

from spakky.dispatch.celery.app import build_celery_app, masked_url
from spakky.dispatch.celery.config import ENV_PREFIX, SERIALIZERS, CeleryConfig
from spakky.dispatch.celery.endpoint import CeleryEndpointRegistrar
from spakky.dispatch.celery.error import (
    CeleryConfigurationError,
    ReservedHeaderError,
    UnknownQueueError,
)
from spakky.dispatch.celery.result import CeleryTaskResult
from spakky.dispatch.celery.schedule import (
    CeleryScheduleRegistrar,
    celery_weekday,
    to_celery_schedule,
)
from spakky.dispatch.celery.sender import RESERVED_HEADERS, CeleryTaskSender

__all__ = [
    "ENV_PREFIX",
    "RESERVED_HEADERS",
    "SERIALIZERS",
    "CeleryConfig",
    "CeleryConfigurationError",
    "CeleryEndpointRegistrar",
    "CeleryScheduleRegistrar",
    "CeleryTaskResult",
    "CeleryTaskSender",
    "ReservedHeaderError",
    "UnknownQueueError",
    "build_celery_app",
    "celery_weekday",
    "masked_url",
    "to_celery_schedule",
]
