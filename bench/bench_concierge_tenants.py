"""Many condominiums in one concierge process: load time, memory per condominium, routing cost.

Writes the same generated tenants folder as bench_directory_tenants.py (default
1,000 fictional condominiums; half subfolders, half one file; each with its own
greeting), builds the concierge the way the service does (`ConciergeApp` with
PORTEIRO_CONCIERGE_TENANTS_DIR: one conversation, vocabulary, reader and engine
per condominium; the directory and dialer clients are not connected), then prints:

* the first load time and the RSS it added (per condominium);
* a poll with nothing changed (what every reload interval costs);
* routing a new call to its condominium by the code in its UUID (`TenantCalls`)
  and the core's greeting for it (`Conversation.handle`, pure), p50/p99.

    .venv/bin/python bench/bench_concierge_tenants.py [--condominiums 1000] [--apartments 20] [--calls 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_directory_tenants import rss_bytes, write_folder  # noqa: E402

from porteiro_common.ids import session_id_for  # noqa: E402
from porteiro_concierge.app import ConciergeApp  # noqa: E402
from porteiro_concierge.core.events import VisitorStarted  # noqa: E402
from porteiro_concierge.settings import ConciergeSettings  # noqa: E402


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return f"p50 {p50:6.3f} ms   p99 {p99:6.3f} ms   (n={len(ordered)})"


async def time_routing(app: ConciergeApp, codes: list[str], calls: int) -> tuple[list[float], list[float]]:
    """Route a new call by its UUID code, then let its condominium's core greet (no I/O)."""
    rng = random.Random(5)
    routing, greeting = [], []
    for _ in range(calls):
        session_id = session_id_for(rng.choice(codes))
        event = VisitorStarted(session_id, "")
        began = time.perf_counter()
        tenant = app.calls._routed(session_id, "")  # what dispatch does for a new visitor leg
        routed = time.perf_counter()
        assert tenant is not None
        handled = tenant.data.engine.conversation.handle(None, event, time.time())
        greeting.append(time.perf_counter() - routed)
        routing.append(routed - began)
        assert handled.session is not None and handled.session.condominium == tenant.id
    return routing, greeting


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--condominiums", type=int, default=1000)
    parser.add_argument("--apartments", type=int, default=20, help="(the concierge keeps no directory data)")
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary) / "tenants"
        folder.mkdir()
        written = write_folder(folder, args.condominiums, args.apartments)
        codes = [f"{index + 1:08x}" for index in range(len(written))]
        print(
            f"{args.condominiums} condominiums; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        gc.collect()
        rss_before = rss_bytes()
        began = time.perf_counter()
        settings = ConciergeSettings(tenants_dir=folder, reload_interval_seconds=0, redis_url=None)
        app = ConciergeApp(settings)  # loads the folder: one engine per condominium
        load_seconds = time.perf_counter() - began
        gc.collect()
        added = rss_bytes() - rss_before
        served = len(app.tenants.current)
        assert served == args.condominiums, app.tenants.problems
        print(
            f"first load        : {load_seconds:6.1f} s ({load_seconds / served * 1000:.1f} ms a condominium), "
            f"{served} served"
        )
        print(
            f"memory (RSS delta): {added / 2**20:6.0f} MiB in all, {added / served / 1024:.0f} KiB a condominium"
        )
        began = time.perf_counter()
        idle = app.tenants.refresh()
        print(f"poll, no change   : {(time.perf_counter() - began) * 1000:6.0f} ms")
        assert not idle.changed
        routing, greeting = asyncio.run(time_routing(app, codes, args.calls))
        print(f"route by UUID code: {percentiles(routing)}")
        print(f"greeting (core)   : {percentiles(greeting)}")


if __name__ == "__main__":
    main()
