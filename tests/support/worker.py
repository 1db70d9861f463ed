"""A real ``celery worker`` (or ``beat``) process for end-to-end tests."""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """A running worker; ``log`` holds everything it printed so far."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 30.0) -> None:
        """Wait until ``text`` appears in the log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log:
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log}")
            time.sleep(0.1)
        raise TimeoutError(f"{text!r} not seen in worker log:\n{self.log}")


@contextmanager
def celery_process(
    target: str,
    env: Mapping[str, str],
    log_path: Path,
    *,
    command: str = "worker",
    args: tuple[str, ...] = (),
    ready: str | None = "ready.",
) -> Iterator[WorkerProcess]:
    """Run ``celery -A target <command>`` with ``env`` until the block ends."""
    argv = [sys.executable, "-m", "celery", "-A", target, command, *args]
    argv += quiet_options(command)
    with spawn(argv, env, log_path, ready=ready) as worker:
        yield worker


def quiet_options(command: str) -> list[str]:
    """Options that keep a test worker or beat fast and talkative."""
    extra = ["--loglevel", "INFO"]
    if command == "worker":
        extra += ["--without-heartbeat", "--without-mingle", "--without-gossip"]
        # A unique node name: RabbitMQ refuses a second `celery@host` pidbox.
        extra += ["--hostname", f"test-{uuid.uuid4().hex[:10]}@%h"]
    return extra


@contextmanager
def spawn(
    argv: list[str],
    env: Mapping[str, str],
    log_path: Path,
    *,
    ready: str | None = "ready.",
) -> Iterator[WorkerProcess]:
    """Run ``argv`` from the repository root with ``env`` until the block ends."""
    full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = WorkerProcess(process, log_path)
    try:
        if ready is not None:
            worker.wait_for(ready, timeout=60)
        yield worker
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """Stop a worker warmly, then by force."""
    stop_all([process], timeout)


def stop_all(
    processes: Iterable[subprocess.Popen[bytes]], timeout: float = 15.0
) -> None:
    """Stop workers warmly, all at once so their shutdowns overlap, then by force.

    (A Celery worker on RabbitMQ takes about 10 s to shut down warmly.)
    """
    running = [process for process in processes if process.poll() is None]
    for process in running:
        _signal(process, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in running:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal(process, signal.SIGKILL)
            process.wait()


def _signal(process: subprocess.Popen[bytes], number: signal.Signals) -> None:
    with suppress(ProcessLookupError):  # it ended in the meantime
        os.killpg(process.pid, number)
