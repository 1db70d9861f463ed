"""Result backend faults: a caller asks for a result while the backend is down.

The backend is a private Redis (stopped or frozen by the test); the broker is
a shared one, which only carries this test's queue.
"""

import gc
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from spakky.dispatch.celery import CeleryTaskResult
from spakky.dispatch.core import ResultBackendUnavailableError
from tests.faults.apps.reliable import build_app
from tests.faults.apps.reliable_handlers import LedgerHandler
from tests.faults.conftest import FaultWorker, assert_no_secret
from tests.faults.ledger import Ledger
from tests.faults.report import FaultReport
from tests.faults.servers import RedisServer

pytestmark = pytest.mark.broker

TARGET = "tests.faults.apps.reliable:celery"


@pytest.fixture(params=["redis", "rabbitmq"])
def shared_broker(request: pytest.FixtureRequest) -> str:
    """A shared broker: it only carries this test's queue."""
    if request.param == "redis":
        return f"{request.getfixturevalue('shared_redis')}/11"
    url: str = request.getfixturevalue("shared_rabbitmq")
    return url


@pytest.mark.timeout(180)
@pytest.mark.parametrize("fault", ["stopped", "frozen"])
def test_result_backend_unreachable_expect_clear_error_in_bounded_time(
    private_redis: RedisServer,
    shared_broker: str,
    use_env: Callable[..., dict[str, str]],
    fault_worker: FaultWorker,
    ledger: Ledger,
    fault_report: FaultReport,
    fault: str,
) -> None:
    """``get`` on an unreachable backend raises our error long before its timeout.

    The error names the backend (password masked) and the reason; the task
    itself still ran, and the worker, which could not store that result,
    keeps running. Once the backend is back, the same caller reads the next
    task's result without a restart.
    """
    use_env(
        SPAKKY_CELERY__BROKER_URL=shared_broker,
        SPAKKY_CELERY__RESULT_BACKEND=private_redis.url(1),
        SPAKKY_CELERY__RESULT_BACKEND_TIMEOUT="1",
        SPAKKY_CELERY__RESULT_BACKEND_MAX_RETRIES="1",
    )
    caller_timeout, bound = 60.0, 15.0
    application = build_app()
    handler: Any = application.container.get(LedgerHandler)  # returns handles
    run = uuid.uuid4().hex[:6]
    before, during, after = (f"backend-{fault}-{run}-{n}" for n in range(3))
    try:
        with fault_worker(TARGET, "-P", "solo") as worker:
            # Keep this handle alive through the outage: a handle collected
            # while the backend is down queues an unsubscribe that Celery's
            # result consumer retries only RESULT_BACKEND_MAX_RETRIES times
            # before giving up for good (docs/reliability.md, Results).
            first = handler.record(before)
            assert first.get(timeout=60) == before
            with fault_report.fault(f"result backend {fault} while a caller waits"):
                private_redis.stop() if fault == "stopped" else private_redis.freeze()
                result = handler.record(during)
                assert isinstance(result, CeleryTaskResult)
                assert ledger.wait_for("done", [during], timeout=60) == {during}
                started = time.monotonic()
                with pytest.raises(ResultBackendUnavailableError) as raised:
                    result.get(timeout=caller_timeout)
                elapsed = time.monotonic() - started
                private_redis.start() if fault == "stopped" else private_redis.thaw()
                text = str(raised.value)
                assert elapsed < bound, f"{elapsed:.1f}s: {text}"
                assert result.task_id in text
                assert f"127.0.0.1:{private_redis.port}" in text
                assert ":**@" in text
                assert_no_secret(text)
                started = time.monotonic()
                assert handler.record(after).get(timeout=60) == after
                recovered = time.monotonic() - started
                assert recovered < bound, f"recovery took {recovered:.1f}s"
                assert worker.process.poll() is None
                fault_report.tasks([before, during, after], ledger.done())
                # Celery unsubscribes a handle when it is collected: do it
                # while the backend is up, not at teardown when it is gone.
                del raised, result, first
                gc.collect()
            log = worker.log
    finally:
        application.stop()
    assert_no_secret(log)
    # The result the worker could not store must not stop it (a rejection
    # racing Celery's own acknowledgement once did, with MessageStateError).
    assert "Unrecoverable error" not in log
