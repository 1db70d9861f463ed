"""What the auth adapter adds per dispatch and per invocation, in-process.

Run from the repository root::

    .venv/bin/python packages/spakky-dispatch-auth/bench/measure_cost.py

Two applications share the dispatch core on its in-memory sender (no broker,
so the ratios are upper bounds: a real publish costs far more than the
in-memory one). One has the auth adapter with spakky-cryptography's HS256
signer/verifier; the other has no propagator at all. Each figure is the best
of several rounds of the mean time per call.
"""

import os
import sys
import time
from collections.abc import Callable
from typing import cast, override

from spakky.auth import (
    AUTH_CONTEXT_CONTEXT_KEY,
    AuthContext,
    AuthorizationDecision,
    AuthorizationReasonCode,
    AuthSubject,
    CredentialCarrier,
    CredentialCarrierKind,
    CredentialCarrierLocation,
    IRoleChecker,
    RoleCheckRequest,
    protected,
    require_role,
)
from spakky.auth.startup import auth_snapshot_propagation_config
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.core.pod.annotations.pod import Pod, PodType
from spakky.core.pod.interfaces.application_context import IApplicationContext
from spakky.core.pod.interfaces.aware.application_context_aware import (
    IApplicationContextAware,
)
from spakky.core.pod.interfaces.post_processor import IPostProcessor
from spakky.plugins.cryptography import (
    CryptographyAuthProvider,
    CryptographyAuthProviderConfig,
    Key,
)
from spakky.task import TaskHandler, task

from spakky.dispatch.auth import (
    AuthSnapshotPropagator,
    TaskAuthConfig,
    TaskAuthorizer,
    TaskAuthStartupValidationService,
)
from spakky.dispatch.core import TaskDispatcher
from spakky.dispatch.core.adapter import (
    HeaderPropagation,
    IScheduleRegistrar,
    ITaskEndpointRegistrar,
    ITaskSender,
    ScheduledCall,
    ScheduleSpec,
    TaskBinding,
    TaskInvoker,
    TaskMessage,
    TaskRegistrar,
    TaskRegistry,
)
from spakky.dispatch.core.testing import InMemoryTaskSender

ROUNDS = 7
CALLS = 5_000


@Pod()
class NoEndpoints(ITaskEndpointRegistrar):
    """No transport: tasks are run by calling the invoker directly."""

    @override
    def register(self, binding: TaskBinding) -> None:
        pass


@Pod()
class NoSchedules(IScheduleRegistrar):
    """No transport: schedules are ignored."""

    @override
    def register(self, task_name: str, spec: ScheduleSpec, call: ScheduledCall) -> None:
        pass


@Pod()
def in_memory_sender() -> ITaskSender:
    """The core's in-memory sender."""
    return InMemoryTaskSender()


@Pod()
class RegisterTasks(IPostProcessor, IApplicationContextAware):
    """Registers the handlers at startup, as the plugin's post-processor does."""

    @override
    def set_application_context(self, application_context: IApplicationContext) -> None:
        application_context.get(TaskRegistrar).register_container(application_context)

    @override
    def post_process(self, pod: object) -> object:
        return pod


CORE_PODS: tuple[PodType, ...] = (
    TaskRegistry,
    HeaderPropagation,
    TaskDispatcher,
    TaskInvoker,
    TaskRegistrar,
    NoEndpoints,
    NoSchedules,
    in_memory_sender,
    RegisterTasks,
)
AUTH_PODS: tuple[PodType, ...] = (
    auth_snapshot_propagation_config,
    TaskAuthConfig,
    TaskAuthorizer,
    AuthSnapshotPropagator,
    TaskAuthStartupValidationService,
    CryptographyAuthProviderConfig,
    CryptographyAuthProvider,
)
ADMIN = AuthContext(
    subject=AuthSubject(id="user-42"),
    issuer="https://issuer.example",
    roles=("reader", "admin"),
    scopes=("reports:read",),
    credential_carrier=CredentialCarrier(
        kind=CredentialCarrierKind.BEARER_TOKEN,
        location=CredentialCarrierLocation.AUTHORIZATION_HEADER,
        material="tok_live_4f9c2e7b8a1d6e3f0b5c9a2d",
    ),
)


@Pod()
class HeldRoles(IRoleChecker):
    """Allows the roles the identity holds."""

    @override
    def check_role(self, request: RoleCheckRequest) -> AuthorizationDecision:
        if request.role in request.auth_context.roles:
            return AuthorizationDecision.allow()
        return AuthorizationDecision.deny(AuthorizationReasonCode.INSUFFICIENT_ROLE)


@TaskHandler()
class BenchHandler:
    """One unprotected, one authenticated-only and one role-protected task."""

    @task
    def plain(self) -> int:
        return 1

    @protected
    @task
    def authenticated(self) -> int:
        return 1

    @require_role("admin")
    @task
    def admin_only(self) -> int:
        return 1


class Side:
    """One started application and how to dispatch and run its tasks."""

    def __init__(self, *pods: PodType) -> None:
        app = SpakkyApplication(ApplicationContext())
        for pod in (*CORE_PODS, *pods, HeldRoles, BenchHandler):
            app.add(pod)
        self.app = app.start()
        self.context = cast(ApplicationContext, app.application_context)
        self.dispatcher = self.context.get(TaskDispatcher)
        self.invoker = self.context.get(TaskInvoker)
        self.sender = cast(InMemoryTaskSender, self.context.get(ITaskSender))  # type: ignore[type-abstract]
        registry = self.context.get(TaskRegistry)
        self.tasks = {binding.method_name: binding for binding in registry}

    def dispatch(self, name: str) -> Callable[[], object]:
        binding: TaskBinding = self.tasks[name]
        dispatch, clear = self.dispatcher.dispatch, self.sender.clear

        def run() -> object:
            clear()
            return dispatch(binding, (), {})

        return run

    def invoke(self, name: str) -> Callable[[], object]:
        self.sender.clear()
        self.dispatcher.dispatch(self.tasks[name], (), {})
        message: TaskMessage = self.sender.messages[0]
        invoke = self.invoker.invoke_message
        return lambda: invoke(message)


def best_us(call: Callable[[], object]) -> float:
    """Best-of-rounds mean time of one call, in microseconds."""
    for _ in range(CALLS // 10):
        call()
    rounds = []
    for _ in range(ROUNDS):
        start = time.perf_counter_ns()
        for _ in range(CALLS):
            call()
        rounds.append((time.perf_counter_ns() - start) / CALLS / 1000)
    return min(rounds)


def main() -> int:
    os.environ["SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY"] = Key(size=32).b64_urlsafe
    os.environ["SPAKKY_AUTH_SNAPSHOT_PROPAGATION_ENABLED"] = "true"
    with_auth = Side(*AUTH_PODS)
    without = Side()
    for side in (with_auth, without):
        side.context.set_context_value(AUTH_CONTEXT_CONTEXT_KEY, ADMIN)

    rows = [
        (
            "dispatch @protected, caller has an AuthContext (signs)",
            "dispatch",
            "authenticated",
        ),
        ("dispatch unprotected, caller has an AuthContext", "dispatch", "plain"),
        ("invoke unprotected task", "invoke", "plain"),
        ("invoke @protected task (verify, binding, seed)", "invoke", "authenticated"),
        ("invoke @require_role task (+1 check)", "invoke", "admin_only"),
    ]
    print(f"{'path':56} {'without':>9} {'with':>9} {'added':>9} {'ratio':>6}")
    for label, kind, name in rows:
        base = best_us(getattr(without, kind)(name))
        full = best_us(getattr(with_auth, kind)(name))
        print(
            f"{label:56} {base:8.1f}µs {full:8.1f}µs {full - base:8.1f}µs "
            f"{full / base:5.2f}x"
        )
    with_auth.context.clear_context()
    anonymous = best_us(with_auth.dispatch("authenticated"))
    base = best_us(without.dispatch("authenticated"))
    print(
        f"{'dispatch @protected, no AuthContext (no header)':56} {base:8.1f}µs "
        f"{anonymous:8.1f}µs {anonymous - base:8.1f}µs {anonymous / base:5.2f}x"
    )
    for side in (with_auth, without):
        side.app.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
