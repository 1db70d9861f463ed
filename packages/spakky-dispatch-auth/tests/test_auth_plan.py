"""``plan_task_auth``: a task's requirements, validated and compiled once."""

from datetime import timedelta

import pytest
from spakky.auth import AuthRequirementKind
from spakky.task import TaskAuthMetadata, TaskAuthRequirementMetadata

from spakky.dispatch.auth import (
    InvalidTaskAuthDefinitionError,
    ProtectedScheduleError,
    RequirementCheck,
    plan_task_auth,
)
from spakky.dispatch.core.adapter import IntervalSchedule, TaskBinding

from .auth_fakes import Harness
from .auth_handlers import AuditHandler, ReportHandler
from .conftest import AppFactory


class _Handler:
    def run(self) -> None: ...


def _binding(
    *requirements: TaskAuthRequirementMetadata,
    public: bool = False,
    scheduled: bool = False,
) -> TaskBinding:
    return TaskBinding(
        name="billing.Handler.run",
        handler_type=_Handler,
        method_name="run",
        pod_name="handler",
        is_async=False,
        schedule=IntervalSchedule(every=timedelta(minutes=1)) if scheduled else None,
        auth=TaskAuthMetadata(public_access=public, requirements=requirements),
    )


def _requirement(kind: str, ref: str, **refs: str) -> TaskAuthRequirementMetadata:
    return TaskAuthRequirementMetadata(kind=kind, ref=ref, **refs)


def test_plan_unprotected_task_expect_no_checks() -> None:
    """A task without requirements (public or not) is not protected."""
    for binding in (_binding(), _binding(public=True), _binding(scheduled=True)):
        plan = plan_task_auth(binding)
        assert plan.checks == ()
        assert not plan.protected


def test_plan_every_kind_expect_checks_in_declaration_order() -> None:
    """Each requirement becomes a typed check, in order (AND semantics)."""
    plan = plan_task_auth(
        _binding(
            _requirement("AUTHENTICATED", "authenticated"),
            _requirement("ROLE", "admin", tenant="acme"),
            _requirement("SCOPE", "reports:write"),
            _requirement("PERMISSION", "reports.read", resource="report"),
            _requirement("POLICY", "report", resource="report", action="export"),
            _requirement("RELATION", "owner", resource="report:1"),
        )
    )
    assert plan.protected
    assert plan.task_name == "billing.Handler.run"
    assert [check.kind for check in plan.checks] == [
        AuthRequirementKind.AUTHENTICATED,
        AuthRequirementKind.ROLE,
        AuthRequirementKind.SCOPE,
        AuthRequirementKind.PERMISSION,
        AuthRequirementKind.POLICY,
        AuthRequirementKind.RELATION,
    ]
    assert plan.checks[1] == RequirementCheck(
        kind=AuthRequirementKind.ROLE, ref="admin", tenant="acme"
    )
    assert [check.label for check in plan.checks] == [
        "AUTHENTICATED 'authenticated'",
        "ROLE 'admin'",
        "SCOPE 'reports:write'",
        "PERMISSION 'reports.read' on 'report'",
        "POLICY 'report' action 'export'",
        "RELATION 'owner' on 'report:1'",
    ]


def test_plan_unknown_kind_expect_error_naming_task_and_kind() -> None:
    """A requirement kind the adapter cannot evaluate is refused, not skipped."""
    with pytest.raises(InvalidTaskAuthDefinitionError) as caught:
        plan_task_auth(_binding(_requirement("GEOFENCE", "eu")))
    assert "billing.Handler.run: unknown auth requirement kind 'GEOFENCE'" in str(
        caught.value
    )


@pytest.mark.parametrize(
    ("requirement", "hint"),
    [
        (_requirement("POLICY", "report", resource="report"), "@require_policy"),
        (_requirement("POLICY", "report", action="export"), "@require_policy"),
        (_requirement("RELATION", "owner"), "@require_relation"),
    ],
)
def test_plan_incomplete_requirement_expect_error_with_decorator_hint(
    requirement: TaskAuthRequirementMetadata, hint: str
) -> None:
    """A policy without resource/action or a relation without resource is refused."""
    with pytest.raises(InvalidTaskAuthDefinitionError, match=hint):
        plan_task_auth(_binding(requirement))


def test_plan_protected_schedule_expect_protected_schedule_error() -> None:
    """A protected @schedule method is refused, naming it and its requirements."""
    with pytest.raises(ProtectedScheduleError) as caught:
        plan_task_auth(_binding(_requirement("ROLE", "ops"), scheduled=True))
    assert "billing.Handler.run requires ROLE 'ops'" in str(caught.value)
    assert "scheduled runs carry no caller identity" in str(caught.value)


def test_plan_public_and_protected_expect_error() -> None:
    """Public access and requirements together are a conflict, as in spakky-auth."""
    with pytest.raises(InvalidTaskAuthDefinitionError, match="@public_access"):
        plan_task_auth(_binding(_requirement("SCOPE", "s"), public=True))


def test_plan_of_registered_tasks_expect_method_and_class_requirements(
    make_app: AppFactory,
) -> None:
    """Plans use the metadata the core collected at registration."""
    harness: Harness = make_app(ReportHandler, AuditHandler)
    propagator = harness.propagator
    purge = propagator.plan_for(harness.binding(ReportHandler, "purge_and_write"))
    audit = propagator.plan_for(harness.binding(AuditHandler, "audit"))
    # Decorators apply bottom-up: the one nearest the method is checked first.
    assert [c.label for c in purge.checks] == ["ROLE 'admin'", "SCOPE 'reports:write'"]
    assert [c.label for c in audit.checks] == ["ROLE 'auditor'"]
    assert not propagator.plan_for(harness.binding(ReportHandler, "tick")).protected
