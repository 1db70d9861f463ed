"""spakky-dispatch-celery: the Celery adapter of spakky-dispatch.

Sending through ``send_task``, schedules as ``beat_schedule`` entries, worker
endpoints on the application's own Celery app, ``CeleryConfig`` and the
Celery-backed ``ITaskResult``.
"""

from spakky.dispatch.celery.app import (
    MAX_HEADER_BYTES_KEY,
    PUBLISH_TIMEOUT_KEY,
    broker_transport_options,
    build_celery_app,
)
from spakky.dispatch.celery.config import (
    DEFAULT_MAX_HEADER_BYTES,
    ENV_PREFIX,
    SERIALIZERS,
    UNSAFE_SERIALIZERS,
    CeleryConfig,
)
from spakky.dispatch.celery.endpoint import CeleryEndpointRegistrar
from spakky.dispatch.celery.error import (
    BrokerRejectedError,
    CeleryConfigurationError,
    PublishUnconfirmedError,
    ReservedHeaderError,
    ResultBackendUnavailableError,
    UnknownQueueError,
)
from spakky.dispatch.celery.logs import RejectedMessageLogFilter
from spakky.dispatch.celery.result import CeleryTaskResult
from spakky.dispatch.celery.schedule import (
    CeleryScheduleRegistrar,
    celery_weekday,
    to_celery_schedule,
)
from spakky.dispatch.celery.sender import RESERVED_HEADERS, CeleryTaskSender
from spakky.dispatch.celery.urls import masked_url
from spakky.dispatch.core.error import HeaderBudgetExceededError

__all__ = [
    "DEFAULT_MAX_HEADER_BYTES",
    "ENV_PREFIX",
    "MAX_HEADER_BYTES_KEY",
    "PUBLISH_TIMEOUT_KEY",
    "RESERVED_HEADERS",
    "SERIALIZERS",
    "UNSAFE_SERIALIZERS",
    "BrokerRejectedError",
    "CeleryConfig",
    "CeleryConfigurationError",
    "CeleryEndpointRegistrar",
    "CeleryScheduleRegistrar",
    "CeleryTaskResult",
    "CeleryTaskSender",
    "HeaderBudgetExceededError",
    "PublishUnconfirmedError",
    "RejectedMessageLogFilter",
    "ReservedHeaderError",
    "ResultBackendUnavailableError",
    "UnknownQueueError",
    "broker_transport_options",
    "build_celery_app",
    "celery_weekday",
    "masked_url",
    "to_celery_schedule",
]
