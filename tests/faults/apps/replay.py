"""The replay matrix's application, on Celery or on taskiq.

Workers run it through each plugin's command line, e.g. ``spakky-taskiq worker
tests.faults.apps.replay:taskiq_app``. It loads spakky-cryptography (HS256
snapshots, key ``SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY``); every task writes
``done <job> <pid>`` to the ledger (``SPAKKY_FAULT_LEDGER``) when its body runs.
"""

from typing import override

import spakky.plugins.cryptography
from spakky.auth import (
    AuthorizationDecision,
    AuthorizationReasonCode,
    IRoleChecker,
    RoleCheckRequest,
    protected,
    require_role,
)
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.core.pod.annotations.pod import Pod
from spakky.task import TaskHandler, task

import spakky.plugins.celery
import spakky.plugins.taskiq
from tests.faults.ledger import append


@Pod()
class RoleClaims(IRoleChecker):
    """Allows the roles the verified identity holds."""

    @override
    def check_role(self, request: RoleCheckRequest) -> AuthorizationDecision:
        if request.role in request.auth_context.roles:
            return AuthorizationDecision.allow()
        return AuthorizationDecision.deny(AuthorizationReasonCode.INSUFFICIENT_ROLE)


@TaskHandler()
class PaymentHandler:
    """What an attacker who reads the broker would like to run again."""

    @protected
    @task
    def refund(self, job: str, amount: int) -> str:
        append("done", job)
        return f"refunded {amount}"

    @require_role("admin")
    @task
    def delete_user(self, job: str) -> str:
        append("done", job)
        return "deleted"

    @task
    def ping(self, job: str) -> str:
        append("done", job)
        return "pong"


PLUGINS = {
    "celery": spakky.plugins.celery.PLUGIN_NAME,
    "taskiq": spakky.plugins.taskiq.PLUGIN_NAME,
}


def build_app(transport: str) -> SpakkyApplication:
    """A started application on ``transport`` (``celery`` or ``taskiq``)."""
    return (
        SpakkyApplication(ApplicationContext())
        .load_plugins(
            include={PLUGINS[transport], spakky.plugins.cryptography.PLUGIN_NAME}
        )
        .add(RoleClaims)
        .add(PaymentHandler)
        .start()
    )


def celery_app() -> SpakkyApplication:
    """The application on Celery (``SPAKKY_CELERY__*``)."""
    return build_app("celery")


def taskiq_app() -> SpakkyApplication:
    """The application on taskiq (``SPAKKY_TASKIQ__*``)."""
    return build_app("taskiq")
