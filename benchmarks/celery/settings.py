"""The Celery settings the raw app and the old distribution's app copy from ours.

So all three sides publish and consume with the same broker options
(publisher confirms, timeouts, retry policy, late acks). Imports only Celery:
the old distribution's environment runs it too.
"""

import json
import os

from celery import Celery

SETTINGS_ENV = "SPAKKY_BENCH_RAW_CONF"
"""JSON of the settings of our plugin's app (``copied``)."""
SETTINGS = (
    "task_serializer",
    "result_serializer",
    "accept_content",
    "task_default_queue",
    "broker_connection_timeout",
    "broker_connection_retry_on_startup",
    "broker_transport_options",
    "task_publish_retry",
    "task_publish_retry_policy",
    "task_acks_late",
    "task_reject_on_worker_lost",
)


def copied(celery: Celery) -> str:
    """The settings of ``celery`` that the other sides copy, as JSON."""
    return json.dumps({name: celery.conf[name] for name in SETTINGS})


def apply_copied(celery: Celery) -> Celery:
    """Give ``celery`` the copied settings and the benchmark's queue."""
    celery.conf.update(json.loads(os.environ.get(SETTINGS_ENV, "{}")))
    celery.conf.task_default_queue = os.environ["SPAKKY_CELERY__DEFAULT_QUEUE"]
    return celery
