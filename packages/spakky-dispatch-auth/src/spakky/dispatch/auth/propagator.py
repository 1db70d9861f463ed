"""``AuthSnapshotPropagator``: the core's header port for signed auth snapshots."""

import json
import time
from base64 import urlsafe_b64encode
from collections.abc import Mapping, MutableMapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from types import TracebackType
from typing import Final, override

from spakky.auth import (
    AUTH_CONTEXT_CONTEXT_KEY,
    AUTH_CONTEXT_SNAPSHOT_METADATA_KEY,
    AuthClaim,
    AuthContext,
    AuthContextSnapshot,
    AuthSnapshotPropagationConfig,
    IAuthContextSnapshotSigner,
    SnapshotSignRequest,
    effective_auth_snapshot_propagation_config,
)
from spakky.core.pod.annotations.order import Order
from spakky.core.pod.annotations.pod import Pod
from spakky.core.pod.interfaces.application_context import IApplicationContext
from spakky.core.pod.interfaces.aware.application_context_aware import (
    IApplicationContextAware,
)

from spakky.dispatch.auth.authorizer import TaskAuthorizer
from spakky.dispatch.auth.error import (
    AuthCredentialLeakError,
    AuthSnapshotSignerMissingError,
    AuthSnapshotSigningError,
    InvalidCallerAuthContextError,
    TaskAuthNotReadyError,
    UnbindableTaskArgumentsError,
)
from spakky.dispatch.auth.message_binding import (
    BINDING_CLAIM,
    MessageBinding,
    NotPlainValueError,
    arguments_digest,
)
from spakky.dispatch.auth.plan import TaskAuthPlan, plan_task_auth
from spakky.dispatch.core.adapter import (
    DispatchOptions,
    IHeaderPropagator,
    TaskBinding,
    TaskCall,
)

AUTH_PROPAGATION_ORDER: Final = 100
"""``@Order`` of the auth propagator: before tracing (200), outermost on the worker."""

SNAPSHOT_HEADER: Final = AUTH_CONTEXT_SNAPSHOT_METADATA_KEY
"""The one header this propagator owns: ``spakky.auth.context_snapshot``."""

_FIELDS: Final = frozenset({SNAPSHOT_HEADER})
_UNPROTECTED: Final = nullcontext()


class AuthContextScope:
    """Admits a protected task: verify, check the binding, re-seed, check requirements.

    Entering raises the task's refusal, so its body never runs; on exit the
    ``AuthContext`` of the scope is removed again, also when the task raised.
    """

    __slots__ = ("_authorizer", "_call", "_context", "_envelope", "_plan", "_previous")

    def __init__(
        self,
        context: IApplicationContext,
        authorizer: TaskAuthorizer,
        plan: TaskAuthPlan,
        envelope: str | None,
        call: TaskCall,
    ) -> None:
        self._context = context
        self._authorizer = authorizer
        self._plan = plan
        self._envelope = envelope
        self._call = call
        self._previous: object = None

    def __enter__(self) -> None:
        auth_context = self._authorizer.admit(self._plan, self._call, self._envelope)
        self._previous = self._context.get_context_value(AUTH_CONTEXT_CONTEXT_KEY)
        self._context.set_context_value(AUTH_CONTEXT_CONTEXT_KEY, auth_context)
        try:
            self._authorizer.authorize(self._plan, auth_context)
        except BaseException:
            self._reset()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._reset()

    def _reset(self) -> None:
        previous, self._previous = self._previous, None
        self._context.set_context_value(AUTH_CONTEXT_CONTEXT_KEY, previous)


@Order(AUTH_PROPAGATION_ORDER)
@Pod()
class AuthSnapshotPropagator(IHeaderPropagator, IApplicationContextAware):
    """Carries the caller's ``AuthContext`` to the worker as a signed snapshot.

    Dispatching a protected task, with ``SPAKKY_AUTH_SNAPSHOT_PROPAGATION_ENABLED
    =true`` and an ``AuthContext`` in the caller's context scope: the registered
    signer signs it (without its credential carrier, with a binding claim
    naming this one message) into the ``spakky.auth.context_snapshot`` header.
    Without a signer the dispatch fails and nothing is sent. Unprotected tasks
    carry no snapshot.

    Worker: a protected task is admitted by ``TaskAuthorizer`` (verify, check
    the binding and age, re-seed, every requirement) before its body runs,
    whatever the propagation setting; unprotected tasks ignore the header and
    see no ``AuthContext``.
    """

    _authorizer: TaskAuthorizer
    _signer: IAuthContextSnapshotSigner | None
    _enabled: bool
    _plans: dict[str, TaskAuthPlan]
    _application_context: IApplicationContext | None

    def __init__(
        self,
        authorizer: TaskAuthorizer,
        propagation: list[AuthSnapshotPropagationConfig] | None = None,
        signer: IAuthContextSnapshotSigner | None = None,
    ) -> None:
        self._authorizer = authorizer
        self._signer = signer
        self._enabled = effective_auth_snapshot_propagation_config(
            tuple(propagation or ())
        ).enabled
        self._plans = {}
        self._application_context = None

    @override
    def set_application_context(self, application_context: IApplicationContext) -> None:
        self._application_context = application_context

    @property
    def enabled(self) -> bool:
        """Whether outgoing tasks carry the caller's signed snapshot."""
        return self._enabled

    @override
    def fields(self) -> frozenset[str]:
        return _FIELDS

    @override
    def inject(self, carrier: MutableMapping[str, str], call: TaskCall) -> None:
        if not self._enabled or not self.plan_for(call.task).protected:
            return
        auth_context = self._context().get_context_value(AUTH_CONTEXT_CONTEXT_KEY)
        if auth_context is None:
            return
        if not isinstance(auth_context, AuthContext):
            raise InvalidCallerAuthContextError(
                f"{call.task.name}: found {type(auth_context).__name__}"
            )
        carrier[SNAPSHOT_HEADER] = self.sign(auth_context, call)

    @override
    def restore(
        self, carrier: Mapping[str, str], call: TaskCall
    ) -> AbstractContextManager[None]:
        plan = self.plan_for(call.task)
        if not plan.protected:
            return _UNPROTECTED
        return AuthContextScope(
            self._context(),
            self._authorizer,
            plan,
            carrier.get(SNAPSHOT_HEADER),
            call,
        )

    @override
    def needs_restore(self, task: TaskBinding) -> bool:
        """Only protected tasks are admitted; unprotected ones skip this propagator.

        Raises:
            InvalidTaskAuthDefinitionError: The task's auth metadata cannot be
                enforced; the task fails instead of running unchecked.
        """
        return self.plan_for(task).protected

    def plan_for(self, task: TaskBinding) -> TaskAuthPlan:
        """Return the task's auth plan, compiled on first use and kept.

        Raises:
            InvalidTaskAuthDefinitionError: The task's auth metadata cannot be
                enforced (see ``plan_task_auth``).
        """
        plan = self._plans.get(task.name)
        if plan is None:
            plan = self._plans[task.name] = plan_task_auth(task)
        return plan

    def sign(self, auth_context: AuthContext, call: TaskCall) -> str:
        """Return the snapshot envelope of ``auth_context`` for one dispatch.

        What is signed is a copy of the caller's context with the claim
        ``spakky.dispatch.binding`` (see ``binding_for``) in place of any
        claim of that name. The signer never sees the credential carrier,
        and an envelope that would still contain the credential is refused.

        Raises:
            UnbindableTaskArgumentsError: An argument is not plain JSON data.
            AuthSnapshotSignerMissingError: No signer is registered.
            AuthSnapshotSigningError: The signer failed.
            AuthCredentialLeakError: The snapshot would contain the credential.
        """
        task = call.task
        if self._signer is None:
            raise AuthSnapshotSignerMissingError(task.name)
        carrier = auth_context.credential_carrier
        claims = tuple(
            claim for claim in auth_context.claims if claim.name != BINDING_CLAIM
        )
        binding = AuthClaim(name=BINDING_CLAIM, value=self.binding_for(call).claim())
        request = SnapshotSignRequest(
            auth_context=replace(
                auth_context, credential_carrier=None, claims=(*claims, binding)
            )
        )
        try:
            snapshot = self._signer.sign_snapshot(request)
        except Exception as error:
            raise AuthSnapshotSigningError(
                f"{task.name}: the signer raised {type(error).__name__}"
            ) from error
        if not isinstance(snapshot, AuthContextSnapshot):
            raise AuthSnapshotSigningError(
                f"{task.name}: the signer returned {type(snapshot).__name__}, not "
                "an AuthContextSnapshot"
            )
        text = snapshot.canonical_json()
        if carrier is not None and _contains(text, carrier.material):
            raise AuthCredentialLeakError(task.name)
        # The envelope format of spakky-auth: unpadded base64url canonical JSON
        # (AuthContextSnapshot.base64url_canonical_json), encoded once here.
        return urlsafe_b64encode(text.encode()).decode().rstrip("=")

    def binding_for(self, call: TaskCall) -> MessageBinding:
        """The binding of one dispatch: audience, task, id, arguments, start.

        Raises:
            UnbindableTaskArgumentsError: An argument is not plain JSON data.
        """
        task = call.task
        try:
            digest = arguments_digest(call.args, call.kwargs)
        except NotPlainValueError as error:
            raise UnbindableTaskArgumentsError(
                f"{task.name}: {error.label} is {error.what}"
            ) from None
        return MessageBinding(
            audience=self._authorizer.config.audience,
            task_name=task.name,
            task_id=call.task_id or "",
            arguments=digest,
            not_before=_not_before(call.options),
        )

    def _context(self) -> IApplicationContext:
        if self._application_context is None:
            raise TaskAuthNotReadyError()
        return self._application_context


def _not_before(options: DispatchOptions | None) -> float | None:
    """When a delayed call may run (seconds since the epoch); None if not delayed."""
    if options is None:
        return None
    if options.countdown is not None:
        return time.time() + options.countdown
    if options.eta is not None:
        return options.eta.timestamp()
    return None


def _contains(canonical_json: str, material: str) -> bool:
    """Whether ``material`` appears in ``canonical_json`` (as JSON escapes it)."""
    return bool(material) and json.dumps(material)[1:-1] in canonical_json
