"""Run the quickstart: a real worker with beat, the seed's calls, what came back.

``python -m uv run --directory examples python -m quickstart``

Without ``SPAKKY_CELERY__BROKER_URL`` it uses an embedded broker: SQLite through
kombu's SQLAlchemy transport, results in SQLite too, all in a temporary folder
that is removed at the end. Set the variable (and ``..._RESULT_BACKEND``) to run
the same thing on Redis or RabbitMQ.
"""

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TIMEOUT = 60.0


def main() -> int:
    """Start a worker with beat, dispatch the seed's calls, print the outcome."""
    with tempfile.TemporaryDirectory(prefix="spakky-quickstart-") as folder:
        work = Path(folder)
        env = _environment(work)
        os.environ.update(env)
        worker = _start_worker(work, env)
        try:
            _wait_for(work / "worker.log", "ready.", worker)
            _demo(work)
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
    print("cleaned up the worker and the temporary broker files")
    return 0


def _environment(work: Path) -> dict[str, str]:
    env = {"SPAKKY_EXAMPLE_OUTBOX": str(work / "outbox.jsonl")}
    if not os.environ.get("SPAKKY_CELERY__BROKER_URL"):
        env["SPAKKY_CELERY__BROKER_URL"] = f"sqla+sqlite:///{work / 'broker.sqlite'}"
        env["SPAKKY_CELERY__RESULT_BACKEND"] = f"db+sqlite:///{work / 'results.sqlite'}"
    if not os.environ.get("SPAKKY_CELERY__DEFAULT_QUEUE"):
        env["SPAKKY_CELERY__DEFAULT_QUEUE"] = f"quickstart-{os.getpid()}"
    return env


def _start_worker(work: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "quickstart.application:celery",
        "worker",
        "--beat",
        "--schedule",
        str(work / "beat-schedule"),
        "--pool",
        "solo",
        "--loglevel",
        "INFO",
        "--without-heartbeat",
        "--without-mingle",
        "--without-gossip",
    ]
    log = (work / "worker.log").open("wb")
    return subprocess.Popen(
        command,
        cwd=HERE.parent,
        env={**os.environ, **env, "PYTHONPATH": str(HERE.parent)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _wait_for(log: Path, text: str, worker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        if worker.poll() is not None:
            raise SystemExit(f"the worker stopped:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)
    raise SystemExit(f"the worker did not start in {TIMEOUT:.0f}s")


def _demo(work: Path) -> None:
    from quickstart.application import app, celery
    from quickstart.handlers import EmailTaskHandler, ReportHandler
    from spakky.plugins.celery import TaskDispatcher, masked_url

    print(f"broker: {masked_url(celery.conf.broker_url)}  (caller pid {os.getpid()})")
    print("beat schedule:")
    for name, entry in sorted(celery.conf.beat_schedule.items()):
        print(f"  {name}: {entry['schedule']}")

    # ``handler.send_email(...)`` alone sends the task, as the seed writes it;
    # TaskDispatcher.send does the same and types the handle by the method:
    # ITaskHandle[None] here, ITaskHandle[str] and ITaskHandle[int] below.
    dispatcher = app.container.get(TaskDispatcher)
    handler = app.container.get(EmailTaskHandler)
    result = dispatcher.send(handler.send_email, "user@example.com", "Hello", "World")
    print(f"dispatched send_email -> task {result.task_id}")
    print(f"came back: {result.get(timeout=TIMEOUT)!r}")

    reports = app.container.get(ReportHandler)
    summary = dispatcher.send(reports.summarize, [3, 4, 5])
    print(f"dispatched summarize([3, 4, 5]) -> task {summary.task_id}")
    text: str = summary.get(timeout=TIMEOUT)
    print(f"came back: {text!r}")

    async def ask_pid() -> int:
        pending = await dispatcher.send_async(reports.worker_pid)
        print(f"dispatched async worker_pid() -> task {pending.task_id}")
        return await pending.get_async(timeout=TIMEOUT)

    print(f"came back: worker pid {asyncio.run(ask_pid())}")

    outbox = work / "outbox.jsonl"
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and _heartbeats(outbox) < 1:
        time.sleep(0.5)
    for line in outbox.read_text().splitlines():
        mail = json.loads(line)
        if mail["subject"] == "Hello":
            print(
                f"outbox: {mail['to']} {mail['subject']!r} sent by worker pid {mail['pid']}"
            )
    print(f"beat ran heartbeat {_heartbeats(outbox)} time(s)")
    app.stop()


def _heartbeats(outbox: Path) -> int:
    if not outbox.exists():
        return 0
    return sum('"heartbeat"' in line for line in outbox.read_text().splitlines())


if __name__ == "__main__":
    raise SystemExit(main())
