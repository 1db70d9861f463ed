"""Private brokers for fault injection: started, stopped, killed and frozen here.

Each server listens on a free loopback port in a directory of its own, so a
test may stop or kill it without touching the shared Redis (6379) or RabbitMQ
(5672). Every process runs in its own session and is ended by its id.
"""

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

SECRET = "fault-s3cret-pw"
"""Password of every private broker: it must never show up in logs or errors."""


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, timeout: float = 0.2) -> bool:
    """Whether something accepts TCP connections on ``127.0.0.1:port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(what)


class _Server:
    """A broker process we own: start, stop (TERM), kill (KILL), freeze (STOP)."""

    name = "server"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.directory / f"{self.name}.log"

    def argv(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def startup_timeout(self) -> float:
        return 10.0

    def start(self) -> None:
        """Start the server on its port and wait until it accepts connections."""
        assert self.process is None or self.process.poll() is not None
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv(),
            env=self.env(),
            cwd=self.directory,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.starts += 1
        process = self.process
        _wait(
            lambda: port_open(self.port) or process.poll() is not None,
            self.startup_timeout(),
            f"{self.name} did not open port {self.port}",
        )
        if process.poll() is not None:
            raise RuntimeError(f"{self.name} exited:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        """Stop the server gracefully (SIGTERM) and wait until its port closes."""
        self._signal(signal.SIGTERM)
        self._reap(timeout=30)

    def kill(self) -> None:
        """Kill the server (SIGKILL), as a crash or an OOM kill would."""
        self._signal(signal.SIGKILL)
        self._reap(timeout=30)

    def freeze(self) -> None:
        """Suspend the server: TCP connects still complete, nothing answers."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Resume a frozen server."""
        self._signal(signal.SIGCONT)

    def restart(self, *, down_for: float = 0.0, crash: bool = False) -> None:
        """Stop (or kill) the server, keep it down ``down_for`` seconds, start it."""
        if crash:
            self.kill()
        else:
            self.stop()
        time.sleep(down_for)
        self.start()

    def close(self) -> None:
        """End the server and everything it started, whatever its state."""
        if self.process is not None and self.process.poll() is None:
            self._signal(signal.SIGCONT)
            self._signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _signal(self, signum: int) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

    def _reap(self, timeout: float) -> None:
        assert self.process is not None
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.process.wait(timeout=timeout)
        _wait(lambda: not port_open(self.port), 10, f"{self.name} port stays open")


class RedisServer(_Server):
    """A private ``redis-server`` with a password and an fsync-always AOF.

    The append-only file makes every acknowledged write survive a restart or a
    kill, as a production broker configured for durability would.
    """

    name = "redis"

    def argv(self) -> list[str]:
        return [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--requirepass",
            SECRET,
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ]

    def url(self, db: int = 0) -> str:
        return f"redis://:{SECRET}@127.0.0.1:{self.port}/{db}"


RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


class RabbitNode(_Server):
    """A private RabbitMQ node (own node name, ports, data and cookie).

    It registers with the host's ``epmd`` under its own name and listens on a
    free port; the shared node is never touched.
    """

    name = "rabbitmq"

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.dist_port = free_port()
        (directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\n"
            "loopback_users = none\n"
            f"default_user = fault\ndefault_pass = {SECRET}\n"
        )
        (directory / "enabled_plugins").write_text("[].\n")
        (directory / "rabbitmq-env.conf").write_text("")

    @staticmethod
    def available() -> bool:
        return RABBITMQ_SERVER.exists()

    def argv(self) -> list[str]:
        return [str(RABBITMQ_SERVER)]

    def env(self) -> dict[str, str]:
        base = self.directory
        return {
            **os.environ,
            "HOME": str(base),
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
            "RABBITMQ_NODENAME": f"spakky-fault-{self.port}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_LOGS": str(base / "node.log"),
            "RABBITMQ_PID_FILE": str(base / "node.pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def startup_timeout(self) -> float:
        return 90.0

    def url(self) -> str:
        return f"amqp://fault:{SECRET}@127.0.0.1:{self.port}//"
