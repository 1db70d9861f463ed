"""Bad input on real worker processes: headers, arguments, sizes, configuration.

Messages are sent to the shared brokers, each test on a queue of its own;
nothing here stops a broker.
"""

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from celery import Celery
from kombu import Connection, Producer
from spakky.auth import AUTH_CONTEXT_SNAPSHOT_METADATA_KEY
from spakky.core.application.application import SpakkyApplication

from spakky.dispatch.auth import AbstractTaskAuthRefusedError
from spakky.dispatch.celery import CeleryTaskResult, HeaderBudgetExceededError
from spakky.dispatch.core import BrokerUnavailableError, TaskArgumentSerializationError
from tests.faults.apps import reliable_handlers
from tests.faults.apps.reliable import build_app
from tests.faults.apps.reliable_handlers import PROBE_HEADER, LedgerHandler
from tests.faults.conftest import FaultWorker, assert_no_secret
from tests.faults.ledger import Ledger
from tests.faults.report import FaultReport
from tests.support.brokers import Broker

pytestmark = pytest.mark.broker

TARGET = "tests.faults.apps.reliable:celery"
PREFIX = "tests.faults.apps.reliable_handlers"
RECORD = f"{PREFIX}.LedgerHandler.record"
PROBE = f"{PREFIX}.ProbeHandler.probe"
GUARDED = f"{PREFIX}.ProbeHandler.guarded"
SNAPSHOT = AUTH_CONTEXT_SNAPSHOT_METADATA_KEY
BIG = 100_000
"""Bytes of an oversized header value (under RabbitMQ's 128 KiB frame)."""


@pytest.fixture
def on_broker(
    broker: Broker, use_env: Callable[..., dict[str, str]]
) -> Iterator[SpakkyApplication]:
    """The dispatching application on a shared broker, results in Redis."""
    use_env(
        SPAKKY_CELERY__BROKER_URL=broker.url,
        SPAKKY_CELERY__RESULT_BACKEND=broker.backend_url,
    )
    application = build_app()
    yield application
    application.stop()


def _job(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def _raw(
    app: SpakkyApplication, task: str, job: str, headers: dict[str, object]
) -> CeleryTaskResult[Any]:
    """Send ``task`` with exactly these extra headers, as a foreign producer would."""
    celery = app.container.get(Celery)
    return CeleryTaskResult[Any](
        celery.send_task(task, args=(job,), headers=headers or None)
    )


PROBE_CASES: list[tuple[str, dict[str, object], dict[str, str]]] = [
    ("int", {PROBE_HEADER: 123}, {}),
    ("list (a duplicated header)", {PROBE_HEADER: ["a", "b"]}, {}),
    ("map", {PROBE_HEADER: {"nested": "x"}}, {}),
    ("null", {PROBE_HEADER: None}, {}),
    ("bool", {PROBE_HEADER: True}, {}),
    ("control characters", {PROBE_HEADER: "a\r\nb\tc"}, {PROBE_HEADER: "a\r\nb\tc"}),
    ("oversized", {PROBE_HEADER: "x" * BIG}, {PROBE_HEADER: "x" * BIG}),
    ("other case", {PROBE_HEADER.upper(): "v"}, {}),
    (
        "top level and nested (Celery reads the nested one)",
        {PROBE_HEADER: "top", "headers": {PROBE_HEADER: "nested"}},
        {PROBE_HEADER: "nested"},
    ),
    ("nested headers not a mapping", {PROBE_HEADER: "t", "headers": "junk"}, {}),
    ("traceparent int", {"traceparent": 12345}, {}),
    ("traceparent oversized", {"traceparent": "00-" + "a" * BIG}, {}),
]
"""Label, headers sent to the unprotected probe task, what its propagator sees."""

SNAPSHOT_CASES: list[tuple[str, dict[str, object]]] = [
    ("int", {SNAPSHOT: 7}),
    ("list of two (duplicated)", {SNAPSHOT: ["e30", "e30"]}),
    ("map", {SNAPSHOT: {"roles": ["admin"]}}),
    ("malformed", {SNAPSHOT: "not-a-snapshot"}),
    ("oversized", {SNAPSHOT: "A" * BIG}),
    ("other case", {SNAPSHOT.upper(): "e30"}),
    ("nested", {"headers": {SNAPSHOT: "not-a-snapshot"}}),
    ("nested not a mapping", {SNAPSHOT: "not-a-snapshot", "headers": "junk"}),
]
"""Label and headers sent to the protected task: each must be refused."""


def _protocol_junk(queue: str) -> list[tuple[dict[str, object] | None, object]]:
    """Messages whose Celery protocol fields are malformed: (headers, body)."""

    def headers(**fields: object) -> dict[str, object]:
        return {"task": RECORD, "id": str(uuid.uuid4()), "lang": "py", **fields}

    body = [["x"], {}, {"callbacks": None, "errbacks": None, "chain": None}]
    return [
        (headers(task=["a", "b"]), body),
        (headers(task={"name": RECORD}), body),
        (headers(task=None), body),
        (headers(id=[1, 2]), body),
        (headers(eta="not-a-date"), body),
        (headers(timelimit="soon"), body),
        (headers(stamped_headers="x"), body),
        (headers(), "not a protocol-2 body"),
        (None, {"not": "a task"}),
    ]


@pytest.mark.timeout(240)
def test_bad_headers_at_worker_expect_no_crash_no_privilege_auth_fail_closed(
    broker: Broker,
    on_broker: SpakkyApplication,
    fault_worker: FaultWorker,
    ledger: Ledger,
    fault_report: FaultReport,
) -> None:
    """Malformed, non-string, duplicated and oversized headers reach a worker.

    The core hands each propagator only its own string headers; tracing starts
    a new root for a bad ``traceparent``; the protected task refuses every bad
    snapshot (its body never runs, fail-closed) and no task sees an identity;
    messages with malformed protocol fields are rejected one by one; the
    worker keeps running and serves the next task.
    """
    app = on_broker
    queue = app.container.get(Celery).conf.task_default_queue
    probes = {label: _job("probe") for label, _, _ in PROBE_CASES}
    guarded = {label: _job("guarded") for label, _ in SNAPSHOT_CASES}
    last = _job("after-bad-headers")
    with fault_worker(TARGET, "-P", "solo") as worker:
        with fault_report.fault(f"bad propagation headers ({broker.name})"):
            sent = [
                (label, _raw(app, PROBE, probes[label], headers), expected)
                for label, headers, expected in PROBE_CASES
            ]
            for label, result, expected in sent:
                seen = result.get(timeout=60)
                assert seen["probe"] == expected, label
                assert seen["subject"] is None, label
                if "traceparent" in label:
                    assert seen["trace_parent"] is None, label
        with fault_report.fault(f"bad auth snapshot headers ({broker.name})"):
            refused = [
                (label, _raw(app, GUARDED, guarded[label], headers))
                for label, headers in SNAPSHOT_CASES
            ]
            for label, result in refused:
                with pytest.raises(AbstractTaskAuthRefusedError) as caught:
                    result.get(timeout=60)
                assert caught.value.decision.state.name == "CHALLENGE", label
            assert not set(ledger.done()) & set(guarded.values())
        with fault_report.fault(f"malformed protocol headers ({broker.name})"):
            with Connection(broker.url) as connection:
                producer = Producer(connection)
                for headers, body in _protocol_junk(queue):
                    producer.publish(
                        body, routing_key=queue, headers=headers, serializer="json"
                    )
            handler: Any = app.container.get(LedgerHandler)
            assert handler.record(last).get(timeout=60) == last
            assert worker.process.poll() is None
        fault_report.tasks([*probes.values(), last], ledger.done())
        log = worker.log
    assert "Unrecoverable error" not in log
    assert log.count("Could not handle a task message") >= 5
    assert "not-a-snapshot" not in log


@pytest.mark.timeout(120)
def test_unserializable_argument_expect_error_naming_task_and_argument(
    shared_redis: str,
    use_env: Callable[..., dict[str, str]],
    fault_worker: FaultWorker,
    ledger: Ledger,
    fault_report: FaultReport,
) -> None:
    """Arguments JSON cannot carry are refused at the call site, and never sent."""
    use_env(SPAKKY_CELERY__BROKER_URL=f"{shared_redis}/11")
    application = build_app()
    handler: Any = application.container.get(LedgerHandler)
    good = _job("after-unserializable")
    try:
        with fault_worker(TARGET, "-P", "solo"):
            with fault_report.fault("argument the serializer cannot carry"):
                errors = []
                calls: list[Callable[[], object]] = [
                    lambda: handler.record({1, 2}),
                    lambda: handler.record(job=object()),
                    lambda: handler.record(complex(1, 2)),
                ]
                for call in calls:
                    with pytest.raises(TaskArgumentSerializationError) as raised:
                        call()
                    errors.append(raised.value)
                handler.record(good)
                assert ledger.wait_for("done", [good], timeout=60) == {good}
                assert list(ledger.done()) == [good]  # FIFO: nothing else was sent
            fault_report.tasks([good], ledger.done(), refused=len(errors))
    finally:
        application.stop()
    texts = [str(error) for error in errors]
    assert f"{RECORD}: argument 0 of type set cannot be encoded with json" in texts[0]
    assert f"{RECORD}: argument 'job' of type object" in texts[1]
    assert "argument 0 of type complex" in texts[2]


@pytest.mark.timeout(120)
def test_headers_over_budget_expect_refused_at_dispatch_nothing_sent(
    shared_redis: str,
    use_env: Callable[..., dict[str, str]],
    fault_worker: FaultWorker,
    ledger: Ledger,
    fault_report: FaultReport,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Propagation headers over ``MAX_HEADER_BYTES`` fail the call, naming the header."""
    use_env(
        SPAKKY_CELERY__BROKER_URL=f"{shared_redis}/11",
        SPAKKY_CELERY__MAX_HEADER_BYTES="4096",
    )
    application = build_app()
    handler: Any = application.container.get(LedgerHandler)  # returns handles
    big, good = _job("over-budget"), _job("after-budget")
    try:
        with fault_worker(TARGET, "-P", "solo"):
            with fault_report.fault("propagation headers over the budget"):
                monkeypatch.setitem(
                    reliable_handlers.PROBE_OUTGOING, PROBE_HEADER, "p" * 5000
                )
                with pytest.raises(HeaderBudgetExceededError) as raised:
                    handler.record(big)
                monkeypatch.delitem(reliable_handlers.PROBE_OUTGOING, PROBE_HEADER)
                handler.record(good)
                assert ledger.wait_for("done", [good], timeout=60) == {good}
                assert list(ledger.done()) == [good]
            fault_report.tasks([good], ledger.done(), refused=1)
    finally:
        application.stop()
    text = str(raised.value)
    assert f"{RECORD}: " in text
    assert "budget 4096" in text
    assert f"{PROBE_HEADER!r} 50" in text
    assert "SPAKKY_CELERY__MAX_HEADER_BYTES" in text


@pytest.mark.timeout(120)
def test_header_frame_too_large_for_rabbitmq_expect_error_not_silence(
    shared_rabbitmq: str,
    use_env: Callable[..., dict[str, str]],
    fault_report: FaultReport,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Why the budget exists: raised past RabbitMQ's frame size, the broker says no.

    RabbitMQ closes the connection on a 200 KB header frame; the caller gets
    our error with the broker's reason instead of a silent loss, and the next
    dispatch on the same application works again.
    """
    env = use_env(
        SPAKKY_CELERY__BROKER_URL=shared_rabbitmq,
        SPAKKY_CELERY__MAX_HEADER_BYTES="1000000",
        SPAKKY_CELERY__PUBLISH_RETRY="false",
    )
    application = build_app()
    handler: Any = application.container.get(LedgerHandler)  # returns handles
    try:
        with fault_report.fault("header frame larger than RabbitMQ accepts"):
            monkeypatch.setitem(
                reliable_handlers.PROBE_OUTGOING, PROBE_HEADER, "p" * 200_000
            )
            with pytest.raises(BrokerUnavailableError) as raised:
                handler.record(_job("frame"))
            monkeypatch.delitem(reliable_handlers.PROBE_OUTGOING, PROBE_HEADER)
            assert handler.record(_job("after-frame")).task_id
            fault_report.tasks([], Counter(), refused=1)
    finally:
        application.stop()
        with Connection(shared_rabbitmq) as connection:  # leave nothing behind
            channel: Any = connection.default_channel
            channel.queue_delete(env["SPAKKY_CELERY__DEFAULT_QUEUE"])
    text = str(raised.value)
    assert "frame_too_large" in text
    assert "guest:**@" in text


def _startup_failure(fault_worker: FaultWorker, env: dict[str, str]) -> str:
    """Start a worker that must refuse to start; return its output."""
    with fault_worker(TARGET, "-P", "solo", env=env, ready=None) as worker:
        code = worker.process.wait(timeout=90)
        log = worker.log
    assert code != 0, log
    assert " ready." not in log
    return log


@pytest.mark.timeout(180)
def test_unsafe_serializer_expect_startup_error_unless_opted_in(
    shared_redis: str,
    use_env: Callable[..., dict[str, str]],
    fault_worker: FaultWorker,
    ledger: Ledger,
    fault_report: FaultReport,
) -> None:
    """pickle without the opt-in stops the worker at startup, explaining the risk.

    With ``ALLOW_UNSAFE_SERIALIZERS=true`` the same settings start, and a task
    goes through pickle end to end.
    """
    use_env(SPAKKY_CELERY__BROKER_URL=f"{shared_redis}/11")
    unsafe = {
        "SPAKKY_CELERY__TASK_SERIALIZER": "pickle",
        "SPAKKY_CELERY__ACCEPT_CONTENT": "json,pickle",
    }
    with fault_report.fault("pickle without the explicit opt-in"):
        log = _startup_failure(fault_worker, unsafe)
        assert "SPAKKY_CELERY__TASK_SERIALIZER=pickle" in log
        assert "SPAKKY_CELERY__ACCEPT_CONTENT=pickle" in log
        assert "can run any code" in log
        assert "SPAKKY_CELERY__ALLOW_UNSAFE_SERIALIZERS=true" in log
    use_env(**unsafe, SPAKKY_CELERY__ALLOW_UNSAFE_SERIALIZERS="true")
    application = build_app()
    job = _job("pickled")
    try:
        # Celery itself refuses pickle under root unless told to go on.
        with fault_worker(TARGET, "-P", "solo", env={"C_FORCE_ROOT": "true"}):
            application.container.get(LedgerHandler).record(job)
            assert ledger.wait_for("done", [job], timeout=60) == {job}
            fault_report.tasks([job], ledger.done())
    finally:
        application.stop()


@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("BROKER_URL", None, "SPAKKY_CELERY__BROKER_URL is required but not set"),
        (
            "BROKER_URL",
            "reddis://:fault-s3cret-pw@127.0.0.1:6379/0",
            "unknown transport 'reddis' in 'reddis://:**@127.0.0.1:6379/0'; "
            "did you mean 'redis'?",
        ),
        ("TIMEZONE", "Asia/Seol", "unknown timezone 'Asia/Seol'"),
        ("TASK_SERIALIZER", "xml", "unknown serializer 'xml'"),
    ],
)
def test_invalid_configuration_expect_worker_startup_error_naming_variable(
    use_env: Callable[..., dict[str, str]],
    fault_worker: FaultWorker,
    fault_report: FaultReport,
    variable: str,
    value: str | None,
    expected: str,
) -> None:
    """A worker with a bad ``SPAKKY_CELERY__*`` value stops at startup, saying why."""
    env = {f"SPAKKY_CELERY__{variable}": value} if value is not None else {}
    if variable != "BROKER_URL":
        env["SPAKKY_CELERY__BROKER_URL"] = "redis://127.0.0.1:6379/11"
    use_env(**env)
    with fault_report.fault(f"invalid configuration: {variable}"):
        log = _startup_failure(fault_worker, env)
        assert f"SPAKKY_CELERY__{variable}" in log
        assert expected in log
        assert_no_secret(log)
