"""``HeaderPropagation``: ordered, owned, string-only header propagation."""

from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Any, override

import pytest
from spakky.core.pod.annotations.order import Order
from spakky.core.pod.annotations.pod import Pod

from spakky.dispatch.core.adapter import (
    HeaderPropagation,
    HeaderPropagationError,
    IHeaderPropagator,
    TaskBinding,
    TaskCall,
)

type Log = list[tuple[str, str, object]]


class RecordingPropagator(IHeaderPropagator):
    """Owns ``names``, writes ``writes`` and logs every restore enter and exit."""

    names: frozenset[str]
    writes: dict[str, Any]
    log: Log
    refuse: bool
    calls: list[TaskCall]

    def __init__(
        self,
        log: Log | None = None,
        *,
        names: frozenset[str] | set[str] | None = None,
        writes: dict[str, Any] | None = None,
        refuse: bool = False,
    ) -> None:
        self.log = [] if log is None else log
        self.names = frozenset(names if names is not None else {self.label})
        self.writes = dict(writes or {})
        self.refuse = refuse
        self.calls = []

    @property
    def label(self) -> str:
        """The class name, used in logs and as the default header."""
        return type(self).__name__

    @override
    def fields(self) -> frozenset[str]:
        return self.names

    @override
    def inject(self, carrier: MutableMapping[str, str], call: TaskCall) -> None:
        carrier.update(self.writes)

    @override
    def restore(
        self, carrier: Mapping[str, str], call: TaskCall
    ) -> AbstractContextManager[None]:
        self.calls.append(call)
        return self._restore(dict(carrier), call.task)

    @contextmanager
    def _restore(self, carrier: dict[str, str], task: TaskBinding) -> Iterator[None]:
        if self.refuse:
            self.log.append((self.label, "refuse", carrier))
            raise PermissionError(self.label)
        self.log.append((self.label, "enter", carrier))
        try:
            yield
        finally:
            self.log.append((self.label, "exit", task.name))


@Order(10)
class AuthPropagator(RecordingPropagator):
    """Runs first (lowest order)."""


@Order(20)
class TracePropagator(RecordingPropagator):
    """Runs second."""


class AlphaPropagator(RecordingPropagator):
    """Unordered: runs after every ordered one, by class name."""


class ZuluPropagator(RecordingPropagator):
    """Unordered: after Alpha by class name."""


class TenantPropagator(RecordingPropagator):
    """A propagator whose class name another module could reuse."""


class ForeignTenantPropagator(RecordingPropagator):
    """Another package's propagator with the same class name (set below)."""


ForeignTenantPropagator.__qualname__ = "TenantPropagator"
ForeignTenantPropagator.__module__ = "someone_elses_adapter.propagators"


@Pod()
class TaskHolder:
    """The handler the bindings in these tests point to."""

    def run(self) -> None:
        """The task."""


TASK = TaskBinding.of(Pod.get(TaskHolder), "run")
CALL = TaskCall(task=TASK, task_id="id-1", args=(1,), kwargs={"k": "v"})


def test_propagation_order_expect_ascending_order_then_class_name() -> None:
    """Propagators run by ``@Order``, then by class name when unordered."""
    zulu, alpha, trace, auth = (
        ZuluPropagator(),
        AlphaPropagator(),
        TracePropagator(),
        AuthPropagator(),
    )
    propagation = HeaderPropagation([zulu, alpha, trace, auth])
    assert list(propagation.propagators) == [auth, trace, alpha, zulu]


def test_propagation_without_propagators_expect_empty_headers_and_noop() -> None:
    """With no propagators nothing is written and restore just runs the body."""
    propagation = HeaderPropagation()
    ran: list[bool] = []
    assert propagation.inject(CALL) == {}
    assert propagation.fields == frozenset()
    with propagation.restore({"x-anything": "1"}, TASK):
        ran.append(True)
    assert ran == [True]
    assert list(HeaderPropagation(None).propagators) == []


def test_propagation_fields_expect_union_of_owned_headers() -> None:
    """``fields`` lists every header some propagator owns."""
    propagation = HeaderPropagation(
        [
            AuthPropagator(names={"x-auth"}),
            TracePropagator(names={"traceparent", "tracestate"}),
        ]
    )
    assert propagation.fields == {"x-auth", "traceparent", "tracestate"}


def test_propagation_conflicting_claims_expect_error_naming_both() -> None:
    """Two propagators claiming one header is a configuration error."""
    with pytest.raises(HeaderPropagationError) as caught:
        HeaderPropagation(
            [
                AuthPropagator(names={"x-auth", "x-shared"}),
                TracePropagator(names={"x-shared"}),
            ]
        )
    text = str(caught.value)
    assert "'x-shared'" in text
    assert "AuthPropagator" in text
    assert "TracePropagator" in text


def test_propagation_same_class_name_other_module_expect_conflict_error() -> None:
    """A header claimed by two different propagator classes is refused."""
    with pytest.raises(HeaderPropagationError):
        HeaderPropagation(
            [
                TenantPropagator(names={"x-tenant"}, writes={"x-tenant": "ours"}),
                ForeignTenantPropagator(
                    names={"x-tenant"}, writes={"x-tenant": "theirs"}
                ),
            ]
        )


def test_propagation_inject_expect_every_propagators_headers_merged() -> None:
    """Each propagator's own headers end up in the outgoing headers."""
    propagation = HeaderPropagation(
        [
            TracePropagator(names={"traceparent"}, writes={"traceparent": "00-ab"}),
            AuthPropagator(names={"x-auth"}, writes={"x-auth": "signed"}),
            AlphaPropagator(names={"x-alpha"}),
        ]
    )
    assert propagation.inject(CALL) == {"traceparent": "00-ab", "x-auth": "signed"}


def test_propagation_inject_sees_call_and_fresh_carrier_expect_isolation() -> None:
    """A propagator gets the call and a carrier holding none of the others' headers."""
    seen: list[tuple[dict[str, str], TaskCall]] = []

    class Spy(AlphaPropagator):
        @override
        def inject(self, carrier: MutableMapping[str, str], call: TaskCall) -> None:
            seen.append((dict(carrier), call))

    propagation = HeaderPropagation(
        [AuthPropagator(names={"x-auth"}, writes={"x-auth": "a"}), Spy()]
    )
    propagation.inject(CALL)
    assert seen == [({}, CALL)]


def test_propagation_inject_foreign_header_expect_error_naming_header() -> None:
    """Writing a header the propagator does not own is refused."""
    propagation = HeaderPropagation(
        [TracePropagator(names={"traceparent"}, writes={"x-auth": "forged"})]
    )
    with pytest.raises(HeaderPropagationError) as caught:
        propagation.inject(CALL)
    text = str(caught.value)
    assert "TracePropagator wrote header 'x-auth'" in text
    assert "['traceparent']" in text


def test_propagation_inject_non_str_value_expect_error_naming_type() -> None:
    """Only string header values may be written."""
    propagation = HeaderPropagation(
        [AuthPropagator(names={"x-auth"}, writes={"x-auth": 42})]
    )
    with pytest.raises(HeaderPropagationError) as caught:
        propagation.inject(CALL)
    assert "'x-auth' (int)" in str(caught.value)


def test_propagation_restore_expect_each_sees_only_own_str_headers() -> None:
    """Each propagator receives its own headers only, and only string values."""
    log: Log = []
    propagation = HeaderPropagation(
        [
            AuthPropagator(log, names={"x-auth", "x-auth-kid"}),
            TracePropagator(log, names={"traceparent", "tracestate"}),
        ]
    )
    headers: dict[str, object] = {
        "x-auth": "signed",
        "x-auth-kid": b"bytes-not-str",
        "traceparent": "00-ab",
        "tracestate": None,
        "x-unowned": "ignored",
    }
    with propagation.restore(headers, TASK):
        pass
    entered = {label: carrier for label, event, carrier in log if event == "enter"}
    assert entered == {
        "AuthPropagator": {"x-auth": "signed"},
        "TracePropagator": {"traceparent": "00-ab"},
    }


def test_propagation_restore_expect_entered_in_order_exited_in_reverse() -> None:
    """Outermost first on the way in, last on the way out."""
    log: Log = []
    propagation = HeaderPropagation(
        [TracePropagator(log), AlphaPropagator(log), AuthPropagator(log)]
    )
    with propagation.restore({}, TASK):
        log.append(("task", "run", None))
    assert [(label, event) for label, event, _ in log] == [
        ("AuthPropagator", "enter"),
        ("TracePropagator", "enter"),
        ("AlphaPropagator", "enter"),
        ("task", "run"),
        ("AlphaPropagator", "exit"),
        ("TracePropagator", "exit"),
        ("AuthPropagator", "exit"),
    ]


def test_propagation_restore_body_raises_expect_teardown_and_error_kept() -> None:
    """Contexts are torn down in reverse also when the task raises."""
    log: Log = []
    propagation = HeaderPropagation([TracePropagator(log), AuthPropagator(log)])
    with pytest.raises(LookupError, match="task failed"):  # noqa: SIM117
        with propagation.restore({}, TASK):
            raise LookupError("task failed")
    assert [(label, event) for label, event, _ in log] == [
        ("AuthPropagator", "enter"),
        ("TracePropagator", "enter"),
        ("TracePropagator", "exit"),
        ("AuthPropagator", "exit"),
    ]


def test_propagation_restore_refused_expect_outer_torn_down_inner_skipped() -> None:
    """A fail-closed propagator stops the task; those entered before are exited."""
    log: Log = []
    ran: list[bool] = []
    propagation = HeaderPropagation(
        [
            AuthPropagator(log),
            TracePropagator(log, refuse=True),
            AlphaPropagator(log),
        ]
    )
    with pytest.raises(PermissionError, match="TracePropagator"):  # noqa: SIM117
        with propagation.restore({}, TASK):
            ran.append(True)
    assert ran == []
    assert [(label, event) for label, event, _ in log] == [
        ("AuthPropagator", "enter"),
        ("TracePropagator", "refuse"),
        ("AuthPropagator", "exit"),
    ]


class SelectivePropagator(RecordingPropagator):
    """Restores only for the tasks named in ``tasks``; counts the questions."""

    tasks: frozenset[str]
    asked: list[str]

    def __init__(self, log: Log, tasks: set[str]) -> None:
        super().__init__(log)
        self.tasks = frozenset(tasks)
        self.asked = []

    @override
    def needs_restore(self, task: TaskBinding) -> bool:
        self.asked.append(task.name)
        if task.name == "broken":
            raise LookupError("cannot decide")
        return task.name in self.tasks


@Order(5)
class SuppressingPropagator(RecordingPropagator):
    """Outermost; its context swallows any error (a misbehaving propagator)."""

    @override
    def restore(
        self, carrier: Mapping[str, str], call: TaskCall
    ) -> AbstractContextManager[None]:
        return suppress(Exception)


def _binding(name: str) -> TaskBinding:
    return TaskBinding(
        name=name,
        handler_type=TaskHolder,
        method_name="run",
        pod_name="task_holder",
        is_async=False,
    )


def test_propagation_restore_not_needed_expect_skipped_and_asked_once() -> None:
    """A propagator with nothing to do for a task is not entered; asked once."""
    log: Log = []
    selective = SelectivePropagator(log, {"wanted"})
    propagation = HeaderPropagation([selective, AuthPropagator(log)])
    other = _binding("other")
    for _ in range(3):
        with propagation.restore({}, other):
            log.append(("task", "run", None))
    with propagation.restore({}, _binding("wanted")):
        log.append(("task", "run", None))
    events = [(label, event) for label, event, _ in log]
    assert events[:3] == [
        ("AuthPropagator", "enter"),
        ("task", "run"),
        ("AuthPropagator", "exit"),
    ]
    assert ("SelectivePropagator", "enter") not in events[:9]
    assert events[9:] == [
        ("AuthPropagator", "enter"),
        ("SelectivePropagator", "enter"),
        ("task", "run"),
        ("SelectivePropagator", "exit"),
        ("AuthPropagator", "exit"),
    ]
    assert selective.asked == ["other", "wanted"]


def test_propagation_restore_none_needed_expect_body_runs_alone() -> None:
    """When no propagator restores anything for a task, only the body runs."""
    log: Log = []
    propagation = HeaderPropagation([SelectivePropagator(log, set())])
    with propagation.restore({"SelectivePropagator": "x"}, TASK):
        log.append(("task", "run", None))
    assert log == [("task", "run", None)]


def test_propagation_restore_cannot_decide_expect_error_and_asked_again() -> None:
    """A propagator that cannot decide fails the task, every time it arrives."""
    log: Log = []
    selective = SelectivePropagator(log, set())
    propagation = HeaderPropagation([selective])
    for _ in range(2):
        with pytest.raises(LookupError, match="cannot decide"):
            propagation.restore({}, _binding("broken"))
    assert selective.asked == ["broken", "broken"]
    assert log == []


def test_propagation_restore_new_binding_same_name_expect_asked_again() -> None:
    """A task re-bound under the same name gets its own decision."""
    log: Log = []
    selective = SelectivePropagator(log, {"wanted"})
    propagation = HeaderPropagation([selective])
    first, second = _binding("wanted"), _binding("wanted")
    for binding in (first, first, second):
        with propagation.restore({}, binding):
            pass
    assert selective.asked == ["wanted", "wanted"]
    assert [event for _, event, _ in log] == ["enter", "exit"] * 3


def test_propagation_restore_single_propagator_expect_only_own_str_headers() -> None:
    """Alone, a propagator still sees only its own string headers."""
    log: Log = []
    propagation = HeaderPropagation([TracePropagator(log, names={"a", "b", "c"})])
    with propagation.restore({"a": "1", "b": 2, "x": "3"}, TASK):
        pass
    with propagation.restore({}, TASK):
        pass
    assert [carrier for _, event, carrier in log if event == "enter"] == [
        {"a": "1"},
        {},
    ]


def test_propagation_restore_single_propagator_raises_expect_teardown() -> None:
    """Alone, a propagator's context is still torn down when the task raises."""
    log: Log = []
    propagation = HeaderPropagation([TracePropagator(log)])
    with pytest.raises(LookupError):  # noqa: SIM117
        with propagation.restore({}, TASK):
            raise LookupError("task failed")
    assert [event for _, event, _ in log] == ["enter", "exit"]


def test_propagation_restore_refusal_suppressed_by_outer_expect_still_raised() -> None:
    """A refusal stops the task even if an outer propagator would swallow it."""
    log: Log = []
    ran: list[bool] = []
    propagation = HeaderPropagation(
        [SuppressingPropagator(log), TracePropagator(log, refuse=True)]
    )
    with pytest.raises(PermissionError, match="TracePropagator"):  # noqa: SIM117
        with propagation.restore({}, TASK):
            ran.append(True)
    assert ran == []


def test_propagation_restore_body_error_suppressed_expect_swallowed() -> None:
    """A propagator may still suppress the task's own error, as a ``with`` would."""
    log: Log = []
    propagation = HeaderPropagation([SuppressingPropagator(log), TracePropagator(log)])
    with propagation.restore({}, TASK):
        raise LookupError("swallowed")
    assert [(label, event) for label, event, _ in log] == [
        ("TracePropagator", "enter"),
        ("TracePropagator", "exit"),
    ]


def test_propagation_restore_expect_each_propagator_sees_the_received_call() -> None:
    """Every restoring propagator gets the call: task, received id and arguments."""
    one, two = AuthPropagator(), TracePropagator()
    alone = AlphaPropagator()
    args: tuple[object, ...] = (["a", 1],)
    with HeaderPropagation([one, two]).restore({}, TASK, "id-9", args, {"k": 2}):
        pass
    with HeaderPropagation([alone]).restore({}, TASK):
        pass
    expected = TaskCall(task=TASK, task_id="id-9", args=args, kwargs={"k": 2})
    assert one.calls == two.calls == [expected]
    assert one.calls[0].options is None, "the worker has no delivery options"
    assert alone.calls == [TaskCall(task=TASK, task_id=None)]


def test_propagation_restore_nothing_to_restore_expect_no_call_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When no propagator restores for a task, no call value is built at all."""
    import spakky.dispatch.core.propagation as module

    built: list[object] = []

    def spy(**fields: object) -> TaskCall:
        built.append(fields)
        return TaskCall(**fields)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "TaskCall", spy)
    idle = HeaderPropagation([SelectivePropagator([], set())])
    with idle.restore({}, TASK, "id-1", (1,)):
        pass
    assert built == []
    with HeaderPropagation([AlphaPropagator()]).restore({}, TASK, "id-2"):
        pass
    assert len(built) == 1
