"""Fakes and a small application for the auth adapter's unit tests.

The application wires the dispatch core to its own in-memory ports (no
transport), the auth adapter as the plugin adds it, and the real HS256
signer/verifier of spakky-cryptography.
"""

from dataclasses import dataclass, field, replace
from typing import Any, cast, override

from spakky.auth import (
    AUTH_CONTEXT_CONTEXT_KEY,
    AuthClaim,
    AuthContext,
    AuthContextSnapshot,
    AuthInvocation,
    AuthorizationDecision,
    AuthorizationReasonCode,
    AuthorizationRequest,
    AuthSubject,
    CredentialCarrier,
    CredentialCarrierKind,
    CredentialCarrierLocation,
    IAuthContextSnapshotSigner,
    IAuthContextSnapshotVerifier,
    IAuthorizationPolicyEvaluator,
    IPermissionChecker,
    IRelationChecker,
    IRoleChecker,
    IScopeChecker,
    PermissionCheckRequest,
    RelationCheckRequest,
    RoleCheckRequest,
    ScopeCheckRequest,
    SnapshotSignRequest,
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
)

from spakky.dispatch.auth import (
    AuthSnapshotPropagator,
    SnapshotKeyCheck,
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

TOKEN = "tok_live_4f9c2e7b8a1d6e3f0b5c9a2d"
"""A raw bearer token that must never leave the caller."""


def caller(
    *,
    roles: tuple[str, ...] = ("reader",),
    scopes: tuple[str, ...] = ("reports:read",),
    claims: tuple[AuthClaim, ...] = (),
    material: str = TOKEN,
) -> AuthContext:
    """An authenticated caller holding a bearer token in its credential carrier."""
    return AuthContext(
        subject=AuthSubject(id="user-42", display_name="Ada"),
        issuer="https://issuer.example",
        tenant="acme",
        roles=roles,
        scopes=scopes,
        claims=claims,
        credential_carrier=CredentialCarrier(
            kind=CredentialCarrierKind.BEARER_TOKEN,
            location=CredentialCarrierLocation.AUTHORIZATION_HEADER,
            material=material,
            name="Authorization",
            scheme="Bearer",
        ),
    )


@Pod()
class RecordingEndpointRegistrar(ITaskEndpointRegistrar):
    """A transport's endpoint registrar that only records."""

    def __init__(self) -> None:
        self.bindings: list[TaskBinding] = []

    @override
    def register(self, binding: TaskBinding) -> None:
        self.bindings.append(binding)


@Pod()
class RecordingScheduleRegistrar(IScheduleRegistrar):
    """A transport's schedule registrar that only records."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, ScheduleSpec]] = []

    @override
    def register(self, task_name: str, spec: ScheduleSpec, call: ScheduledCall) -> None:
        self.entries.append((task_name, spec))


@Pod()
def in_memory_sender() -> ITaskSender:
    """The core's in-memory sender: keeps every message it is given."""
    return InMemoryTaskSender()


@Pod()
class RegisteringPostProcessor(IPostProcessor, IApplicationContextAware):
    """Registers every task handler at startup, as the plugin's post-processor does."""

    @override
    def set_application_context(self, application_context: IApplicationContext) -> None:
        application_context.get(TaskRegistrar).register_container(application_context)

    @override
    def post_process(self, pod: object) -> object:
        return pod


@Pod()
class ScriptedChecker(
    IAuthorizationPolicyEvaluator,
    IPermissionChecker,
    IRelationChecker,
    IRoleChecker,
    IScopeChecker,
):
    """Every checker port: roles and scopes from the context, the rest scripted.

    ``script`` maps ``"<KIND>:<ref>"`` to the answer (a decision, anything else
    to return as is, or an exception to raise); unscripted refs are allowed.
    """

    def __init__(self) -> None:
        self.script: dict[str, object] = {}
        self.requests: list[object] = []

    def _answer(self, key: str, request: object, default: AuthorizationDecision) -> Any:
        self.requests.append(request)
        answer = self.script.get(key, default)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    @override
    def evaluate_policy(self, request: AuthorizationRequest) -> AuthorizationDecision:
        return cast(
            AuthorizationDecision,
            self._answer(f"POLICY:{request.resource}", request, _ALLOW),
        )

    @override
    def check_permission(
        self, request: PermissionCheckRequest
    ) -> AuthorizationDecision:
        return cast(
            AuthorizationDecision,
            self._answer(f"PERMISSION:{request.permission}", request, _ALLOW),
        )

    @override
    def check_relation(self, request: RelationCheckRequest) -> AuthorizationDecision:
        return cast(
            AuthorizationDecision,
            self._answer(f"RELATION:{request.relation}", request, _ALLOW),
        )

    @override
    def check_role(self, request: RoleCheckRequest) -> AuthorizationDecision:
        held = request.role in request.auth_context.roles
        default = _ALLOW if held else _deny(AuthorizationReasonCode.INSUFFICIENT_ROLE)
        return cast(
            AuthorizationDecision,
            self._answer(f"ROLE:{request.role}", request, default),
        )

    @override
    def check_scope(self, request: ScopeCheckRequest) -> AuthorizationDecision:
        held = request.scope in request.auth_context.scopes
        default = _ALLOW if held else _deny(AuthorizationReasonCode.INSUFFICIENT_SCOPE)
        return cast(
            AuthorizationDecision,
            self._answer(f"SCOPE:{request.scope}", request, default),
        )


_ALLOW = AuthorizationDecision.allow()


def _deny(code: AuthorizationReasonCode) -> AuthorizationDecision:
    return AuthorizationDecision.deny(code, "the checker says no")


@Pod()
class ScriptedVerifier(IAuthContextSnapshotVerifier):
    """A verifier that raises or returns whatever ``answer`` is."""

    def __init__(self) -> None:
        self.answer: object = RuntimeError("verifier backend is down")

    @override
    def verify_snapshot(
        self, snapshot_envelope: str, invocation: AuthInvocation
    ) -> AuthContext:
        if isinstance(self.answer, BaseException):
            raise self.answer
        return cast(AuthContext, self.answer)


@Pod()
class ScriptedSigner(IAuthContextSnapshotSigner):
    """A signer that records its requests and raises or returns ``answer``."""

    def __init__(self) -> None:
        self.answer: object = RuntimeError("key service is down")
        self.requests: list[SnapshotSignRequest] = []

    @override
    def sign_snapshot(self, request: SnapshotSignRequest) -> AuthContextSnapshot:
        self.requests.append(request)
        if isinstance(self.answer, BaseException):
            raise self.answer
        return cast(AuthContextSnapshot, self.answer)


CORE_PODS: tuple[PodType, ...] = (
    TaskRegistry,
    HeaderPropagation,
    TaskDispatcher,
    TaskInvoker,
    TaskRegistrar,
    RecordingEndpointRegistrar,
    RecordingScheduleRegistrar,
    in_memory_sender,
)
"""The dispatch core on in-memory ports, as a transport plugin would wire it
(its task registration post-processor, ``RegisteringPostProcessor``, is added
last, as the plugins add theirs)."""

AUTH_PODS: tuple[PodType, ...] = (
    SnapshotKeyCheck,
    auth_snapshot_propagation_config,
    TaskAuthConfig,
    TaskAuthorizer,
    AuthSnapshotPropagator,
    TaskAuthStartupValidationService,
)
"""The auth adapter, as ``spakky-celery`` adds it."""

CRYPTO_PODS: tuple[PodType, ...] = (
    CryptographyAuthProviderConfig,
    CryptographyAuthProvider,
)
"""The real HS256 snapshot signer and verifier."""


@dataclass(slots=True)
class Harness:
    """A started application: dispatch and run tasks in this process."""

    app: SpakkyApplication
    context: ApplicationContext
    stopped: bool = field(default=False)

    @property
    def registry(self) -> TaskRegistry:
        return self.context.get(TaskRegistry)

    @property
    def sender(self) -> InMemoryTaskSender:
        return cast(InMemoryTaskSender, self.context.get(ITaskSender))

    @property
    def propagator(self) -> AuthSnapshotPropagator:
        return self.context.get(AuthSnapshotPropagator)

    def get[T](self, type_: type[T]) -> T:
        return self.context.get(type_)

    def binding(self, handler: type[object], method: str) -> TaskBinding:
        found = self.registry.for_method(handler, method)
        assert found is not None, f"{handler.__name__}.{method} is not registered"
        return found

    def dispatch(
        self,
        handler: type[object],
        method: str,
        *args: object,
        as_: AuthContext | None = None,
    ) -> TaskMessage:
        """Send one call as ``as_`` (no identity when None); return the message."""
        self.context.clear_context()
        if as_ is not None:
            self.context.set_context_value(AUTH_CONTEXT_CONTEXT_KEY, as_)
        try:
            self.context.get(TaskDispatcher).dispatch(
                self.binding(handler, method), args, {}
            )
        finally:
            self.context.clear_context()
        return self.sender.messages[-1]

    def run(self, message: TaskMessage) -> object:
        """Run a message as a worker would, in this process."""
        return self.context.get(TaskInvoker).invoke_message(message)

    def call(
        self,
        handler: type[object],
        method: str,
        *args: object,
        as_: AuthContext | None = None,
    ) -> object:
        """Dispatch then run one call; return its value or raise its error."""
        return self.run(self.dispatch(handler, method, *args, as_=as_))

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.app.stop()


def with_headers(message: TaskMessage, headers: dict[str, str]) -> TaskMessage:
    """``message`` with its headers replaced by ``headers``."""
    return replace(message, headers=headers)


def build_app(*pods: PodType, crypto: bool = True) -> Harness:
    """Start an application with the core, the auth adapter and ``pods``."""
    app = SpakkyApplication(ApplicationContext())
    crypto_pods = CRYPTO_PODS if crypto else ()
    for pod in (*CORE_PODS, *AUTH_PODS, *crypto_pods, *pods, RegisteringPostProcessor):
        app.add(pod)
    app.start()
    return Harness(app=app, context=cast(ApplicationContext, app.application_context))
