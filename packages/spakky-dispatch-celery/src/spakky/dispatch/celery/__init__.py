"""spakky-dispatch-celery: the Celery adapter of spakky-dispatch.

Sending through ``send_task``, schedules as ``beat_schedule`` entries, worker
endpoints on the application's own Celery app, ``CeleryConfig`` and the
Celery-backed ``ITaskResult``. Its errors are the core's
(``spakky.dispatch.core``), with Celery's settings named in their details,
plus ``UnknownQueueError``.
"""

from spakky.dispatch.celery.app import (
    MAX_HEADER_BYTES_KEY,
    PUBLISH_TIMEOUT_KEY,
    broker_transport_options,
    build_celery_app,
)
from spakky.dispatch.celery.config import (
    ENV_PREFIX,
    SERIALIZERS,
    UNSAFE_SERIALIZERS,
    CeleryConfig,
)
from spakky.dispatch.celery.endpoint import CeleryEndpointRegistrar
from spakky.dispatch.celery.error import UnknownQueueError
from spakky.dispatch.celery.logs import RejectedMessageLogFilter
from spakky.dispatch.celery.result import CeleryTaskResult
from spakky.dispatch.celery.schedule import CeleryScheduleRegistrar, to_celery_schedule
from spakky.dispatch.celery.sender import RESERVED_HEADERS, CeleryTaskSender
from spakky.dispatch.celery.urls import masked_url
from spakky.dispatch.core.adapter import HeaderBudgetExceededError

__all__ = [
    "ENV_PREFIX",
    "MAX_HEADER_BYTES_KEY",
    "PUBLISH_TIMEOUT_KEY",
    "RESERVED_HEADERS",
    "SERIALIZERS",
    "UNSAFE_SERIALIZERS",
    "CeleryConfig",
    "CeleryEndpointRegistrar",
    "CeleryScheduleRegistrar",
    "CeleryTaskResult",
    "CeleryTaskSender",
    "HeaderBudgetExceededError",
    "RejectedMessageLogFilter",
    "UnknownQueueError",
    "broker_transport_options",
    "build_celery_app",
    "masked_url",
    "to_celery_schedule",
]
