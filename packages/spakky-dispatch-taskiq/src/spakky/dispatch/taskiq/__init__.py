"""spakky-dispatch-taskiq: the taskiq adapter of spakky-dispatch.

Sending through the application's taskiq broker (headers as message labels),
schedules as entries of taskiq's scheduler, worker endpoints on the broker,
``TaskiqConfig`` and the taskiq-backed ``ITaskResult``. Its errors are the
core's (``spakky.dispatch.core``), with taskiq's settings named in their
details, plus the few below that only taskiq has.
"""

from spakky.dispatch.taskiq.amqp_broker import RabbitQueueBroker
from spakky.dispatch.taskiq.broker import (
    CONNECTION_ERRORS,
    build_broker,
    build_result_backend,
    describe_broker,
)
from spakky.dispatch.taskiq.config import ENV_PREFIX, TaskiqConfig
from spakky.dispatch.taskiq.delivery import Delivery, dead_letter_name
from spakky.dispatch.taskiq.endpoint import (
    ENDPOINT_MARK,
    StoredLabelsMiddleware,
    TaskiqEndpoint,
    TaskiqEndpointRegistrar,
)
from spakky.dispatch.taskiq.error import (
    BrokerLoopBlockedError,
    BrokerLoopStoppedError,
    DeliveryRefusedError,
    TaskArgumentsMismatchError,
    TaskExpiredError,
    TaskResultNotSerializableError,
    UnsupportedDispatchOptionError,
)
from spakky.dispatch.taskiq.intake import Refusal, check_delivery
from spakky.dispatch.taskiq.list_broker import RedisListQueueBroker
from spakky.dispatch.taskiq.loop import BrokerLoop, BrokerWork
from spakky.dispatch.taskiq.message import (
    ETA_LABEL,
    EXPIRES_LABEL,
    IGNORE_RESULT_LABEL,
    LABEL_PREFIX,
    RESERVED_LABELS,
    RETRIES_LABEL,
    UNSUPPORTED_OPTIONS,
    Control,
    publish,
)
from spakky.dispatch.taskiq.receiver import GuardedReceiver, PromptReceiver
from spakky.dispatch.taskiq.result import TaskiqTaskResult
from spakky.dispatch.taskiq.schedule import (
    ScheduleEntry,
    SpakkyScheduleSource,
    TaskiqScheduleRegistrar,
    to_scheduled_task,
)
from spakky.dispatch.taskiq.sender import TaskiqTaskSender
from spakky.dispatch.taskiq.stream_broker import RedisStreamQueueBroker
from spakky.dispatch.taskiq.urls import masked_url

__all__ = [
    "CONNECTION_ERRORS",
    "ENDPOINT_MARK",
    "ENV_PREFIX",
    "ETA_LABEL",
    "EXPIRES_LABEL",
    "IGNORE_RESULT_LABEL",
    "LABEL_PREFIX",
    "RESERVED_LABELS",
    "RETRIES_LABEL",
    "UNSUPPORTED_OPTIONS",
    "BrokerLoop",
    "BrokerLoopBlockedError",
    "BrokerLoopStoppedError",
    "BrokerWork",
    "Control",
    "Delivery",
    "DeliveryRefusedError",
    "GuardedReceiver",
    "PromptReceiver",
    "RabbitQueueBroker",
    "RedisListQueueBroker",
    "RedisStreamQueueBroker",
    "Refusal",
    "ScheduleEntry",
    "SpakkyScheduleSource",
    "StoredLabelsMiddleware",
    "TaskArgumentsMismatchError",
    "TaskExpiredError",
    "TaskResultNotSerializableError",
    "TaskiqConfig",
    "TaskiqEndpoint",
    "TaskiqEndpointRegistrar",
    "TaskiqScheduleRegistrar",
    "TaskiqTaskResult",
    "TaskiqTaskSender",
    "UnsupportedDispatchOptionError",
    "build_broker",
    "build_result_backend",
    "check_delivery",
    "dead_letter_name",
    "describe_broker",
    "masked_url",
    "publish",
    "to_scheduled_task",
]
