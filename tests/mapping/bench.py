"""Timing helper for the mapping layer (no assertions): ``python -m tests.mapping.bench [orders]``.

Maps N copies of the recorded 3-line order (every third one a guest) through deals, line items and
contacts and prints the best of three wall-clock times per function.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from tests.mapping.helpers import woo
from woohub.mapping.woocommerce_to_hubspot import (
    MappingConfig,
    load_mapping,
    map_contacts,
    map_deals,
    map_line_items,
)


def synthetic_orders(count: int) -> list[dict[str, Any]]:
    """``count`` distinct copies of order 223 (3 lines + shipping + fee), every third a guest order."""
    orders = []
    for i in range(count):
        order = woo("083-get-order.json")
        order["id"], order["number"] = 1000 + i, str(1000 + i)
        if i % 3 == 0:
            order["customer_id"] = 0
            order["billing"]["email"] = f"guest{i % 500}@example.net"
        for j, line in enumerate(order["line_items"] + order["shipping_lines"] + order["fee_lines"]):
            line["id"] = 100_000 + i * 10 + j
        orders.append(order)
    return orders


def best_time(function: Callable[[], Any], repeat: int = 3) -> float:
    """The fastest of ``repeat`` runs, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def time_mapping(count: int, config: MappingConfig | None = None) -> dict[str, float]:
    """Seconds per mapping function for ``count`` synthetic orders."""
    config = config or load_mapping()
    orders = synthetic_orders(count)
    return {
        "map_deals": best_time(lambda: map_deals(orders, config)),
        "map_line_items": best_time(lambda: map_line_items(orders, config)),
        "map_contacts (guests)": best_time(lambda: map_contacts([], orders, config)),
    }


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    timings = time_mapping(n)
    for name, seconds in timings.items():
        print(f"{name:24s} {seconds:.3f} s")
    print(f"{'total':24s} {sum(timings.values()):.3f} s for {n} orders")
