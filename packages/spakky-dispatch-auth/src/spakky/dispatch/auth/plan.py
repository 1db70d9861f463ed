"""Task auth plans: a task's requirements, validated and compiled once."""

from dataclasses import dataclass
from typing import Final

from spakky.auth import AuthRequirementKind
from spakky.task import TaskAuthRequirementMetadata

from spakky.dispatch.auth.error import (
    InvalidTaskAuthDefinitionError,
    ProtectedScheduleError,
)
from spakky.dispatch.core.adapter import TaskBinding

SUPPORTED_KINDS: Final = frozenset(
    {
        AuthRequirementKind.AUTHENTICATED,
        AuthRequirementKind.PERMISSION,
        AuthRequirementKind.POLICY,
        AuthRequirementKind.RELATION,
        AuthRequirementKind.ROLE,
        AuthRequirementKind.SCOPE,
    }
)
"""Requirement kinds the worker evaluates; any other kind stops startup."""

_KINDS: Final = {kind.value: kind for kind in SUPPORTED_KINDS}


@dataclass(frozen=True, slots=True, kw_only=True)
class RequirementCheck:
    """One requirement of a task, ready to be evaluated on the worker."""

    kind: AuthRequirementKind
    """Which checker port decides the requirement."""

    ref: str
    """Permission, role, scope, relation or policy resource reference."""

    resource: str | None = None
    """Resource of a permission, policy or relation check."""

    action: str | None = None
    """Action of a policy check."""

    tenant: str | None = None
    """Tenant of a tenant-scoped check."""

    @property
    def label(self) -> str:
        """Short description for refusal reasons, e.g. ``ROLE 'admin'``."""
        text = f"{self.kind} {self.ref!r}"
        if self.action is not None:
            text += f" action {self.action!r}"
        elif self.resource is not None and self.resource != self.ref:
            text += f" on {self.resource!r}"
        return text


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskAuthPlan:
    """What the worker checks before a task's body runs (AND of ``checks``)."""

    task_name: str
    """Wire name of the task."""

    checks: tuple[RequirementCheck, ...] = ()
    """Requirements in declaration order; empty for an unprotected task."""

    @property
    def protected(self) -> bool:
        """Whether the task needs a verified caller identity."""
        return bool(self.checks)


def plan_task_auth(task: TaskBinding) -> TaskAuthPlan:
    """Compile the auth metadata collected at registration into a plan.

    Args:
        task: A registered task; ``task.auth`` holds its requirements.

    Returns:
        The plan; it has no checks when the task is not protected.

    Raises:
        ProtectedScheduleError: The task is a protected ``@schedule`` method.
        InvalidTaskAuthDefinitionError: The task is both public and protected,
            or a requirement cannot be evaluated.
    """
    metadata = task.auth
    if not metadata.protected:
        return TaskAuthPlan(task_name=task.name)
    if task.schedule is not None:
        raise ProtectedScheduleError(
            f"{task.name} requires {_labels(metadata.requirements)}"
        )
    if metadata.public_access:
        raise InvalidTaskAuthDefinitionError(
            f"{task.name} is marked @public_access and also requires "
            f"{_labels(metadata.requirements)}; keep only one of them"
        )
    return TaskAuthPlan(
        task_name=task.name,
        checks=tuple(_check(task.name, item) for item in metadata.requirements),
    )


def _labels(requirements: tuple[TaskAuthRequirementMetadata, ...]) -> str:
    return ", ".join(f"{item.kind} {item.ref!r}" for item in requirements)


def _check(task_name: str, item: TaskAuthRequirementMetadata) -> RequirementCheck:
    kind = _KINDS.get(item.kind)
    if kind is None:
        raise InvalidTaskAuthDefinitionError(
            f"{task_name}: unknown auth requirement kind {item.kind!r}; "
            f"expected one of {', '.join(sorted(_KINDS))}"
        )
    if kind is AuthRequirementKind.POLICY and (
        item.resource is None or item.action is None
    ):
        raise InvalidTaskAuthDefinitionError(
            f"{task_name}: a POLICY requirement needs a resource and an action; "
            "use @require_policy(resource, action)"
        )
    if kind is AuthRequirementKind.RELATION and item.resource is None:
        raise InvalidTaskAuthDefinitionError(
            f"{task_name}: a RELATION requirement needs a resource; "
            "use @require_relation(relation, resource=...)"
        )
    return RequirementCheck(
        kind=kind,
        ref=item.ref,
        resource=item.resource,
        action=item.action,
        tenant=item.tenant,
    )
