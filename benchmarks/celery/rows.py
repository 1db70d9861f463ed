"""The Celery rows of each section, full or smoke."""

from benchmarks.celery.old import OldColumn
from benchmarks.harness.rows import Row


def celery_rows(
    sections: tuple[str, ...], smoke: bool, repeat: int, old: OldColumn
) -> list[Row]:
    """spakky-celery against raw Celery and spakky-celery 8.5.0."""
    from benchmarks.celery import dispatch, process, worker
    from benchmarks.harness.oursvenv import ours_environment

    python = ""
    if "e2e" in sections or "import" in sections:
        # Smoke (CI) builds no environment: it uses a current cached one, else
        # the workspace.
        ours = ours_environment(create=not smoke)
        python = ours.python
        print(f"  workers and start-up probes (ours, raw) run in {ours.label}")

    rows: list[Row] = []
    if "dispatch" in sections:
        brokers = ("memory", "redis", "rabbitmq")
        rows += dispatch.dispatch_rows(20 if smoke else 1000, repeat, brokers, old)
    if "worker" in sections:
        rows += worker.worker_rows(20 if smoke else 3000, repeat, old)
    if "e2e" in sections:
        rows += process.process_rows(
            20 if smoke else 1000,
            1 if smoke else max(repeat // 2, 3),
            ("redis",) if smoke else ("redis", "rabbitmq"),
            ("solo",) if smoke else ("solo", "prefork"),
            old,
            python,
        )
    if "import" in sections:
        rows += process.import_rows(1 if smoke else repeat, old, python)
    if "outbox" in sections:
        from benchmarks.celery.outbox import outbox_rows

        rows += outbox_rows(
            5 if smoke else 30, 20 if smoke else 1000, 1 if smoke else 3
        )
    return rows
