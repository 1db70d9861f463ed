"""A relay process: the shop application with its relay, until SIGTERM.

The relay runs in a thread unless ``SPAKKY_DISPATCH_OUTBOX__RELAY=async``.

``python -m tests.outbox.relay_process celery|taskiq``; prints ``relay ready``
once started. SIGKILL it to play a crash.
"""

import os
import signal
import sys
import threading

from tests.outbox.apps.shop import build_app, build_taskiq_app


def main() -> int:
    os.environ.setdefault("SPAKKY_DISPATCH_OUTBOX__RELAY", "thread")
    build = build_taskiq_app if sys.argv[1:] == ["taskiq"] else build_app
    app = build()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    print(f"relay ready pid {os.getpid()}", flush=True)
    stopped.wait()
    app.stop()
    print("relay stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
