"""Places orders with the relay off, prints ``committed``, then waits to be killed.

``python -m tests.outbox.place_and_wait ORDER_ID...``: the process that dies
between the commit and the relay's publish.
"""

import os
import sys
import time

from tests.outbox.apps.shop import build_app
from tests.outbox.apps.shop_handlers import PlaceOrder


def main() -> int:
    os.environ["SPAKKY_DISPATCH_OUTBOX__RELAY"] = "off"
    app = build_app()
    for order_id in sys.argv[1:]:
        handle = app.container.get(PlaceOrder).place(order_id, "k@example.com")
        print(f"committed {order_id} {handle.task_id}", flush=True)
    time.sleep(600)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
