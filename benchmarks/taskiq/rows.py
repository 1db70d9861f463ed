"""The taskiq rows of each section, full or smoke."""

from benchmarks.harness.rows import Row


def taskiq_rows(sections: tuple[str, ...], smoke: bool, repeat: int) -> list[Row]:
    """spakky-taskiq against raw taskiq (Redis DB 14, RabbitMQ; no memory://)."""
    from benchmarks.taskiq import dispatch, process, worker

    rows: list[Row] = []
    if "dispatch" in sections:
        brokers = ("redis", "rabbitmq")
        rows += dispatch.dispatch_rows(20 if smoke else 1000, repeat, brokers)
    if "worker" in sections:
        rows += worker.worker_rows(20 if smoke else 3000, repeat)
    if "e2e" in sections:
        rows += process.process_rows(
            20 if smoke else 1000,
            1 if smoke else max(repeat // 2, 3),
            ("redis",) if smoke else ("redis", "rabbitmq"),
            ("sync", "async"),
        )
    if "import" in sections:
        rows += process.import_rows(1 if smoke else repeat)
    return rows
