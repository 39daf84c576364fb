"""The kernel's floor under the gateway's media edge: N loopback TCP connections, one frame each per 20 ms.

Run from the repository root: `.venv/bin/python bench/bench_send_floor.py [--calls 300] [--seconds 20]`.
Compiles bench/send_floor.c (gcc) and runs it pinned to CPU 0 against a peer like bench_gateway's
callers (a uvloop process on the other CPUs, sending each connection a frame per 20 ms and reading
what comes). The sender does only the media edge's system calls on its schedule: one send per
connection per 20 ms, one recv per 40 ms. Its CPU per call-second is what the gateway's
"media edge" thread cannot go below on this machine (bench_gateway prints that thread's figure).
Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import struct
import subprocess
import tempfile
import time
from pathlib import Path

FRAME = struct.pack(">BH", 0x10, 320) + bytes(320)


class Caller(asyncio.Protocol):
    transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        pass


async def peer(port_ready: asyncio.Future, calls: list[Caller], stop: asyncio.Event) -> None:
    """Accepts the sender's connections and sends each a frame every 20 ms, in 10 phases."""
    loop = asyncio.get_running_loop()

    def accept() -> Caller:
        caller = Caller()
        calls.append(caller)
        return caller

    server = await loop.create_server(accept, "127.0.0.1", 0)
    port_ready.set_result(server.sockets[0].getsockname()[1])
    start, step = time.monotonic(), 0
    while not stop.is_set():
        await asyncio.sleep(max(0.0, start + step * 0.002 - time.monotonic()))
        for caller in calls[step % 10 :: 10]:
            if caller.transport is not None and not caller.transport.is_closing():
                caller.transport.write(FRAME)
        step += 1
    server.close()


async def measure(binary: Path, calls: int, seconds: int, reading: bool) -> float:
    stop, port_ready, callers = asyncio.Event(), asyncio.get_running_loop().create_future(), []
    serving = asyncio.create_task(peer(port_ready, callers, stop))
    port = await port_ready
    command = [str(binary), str(port), str(calls), str(seconds), "1" if reading else "0", "0"]
    process = await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE)
    output, _ = await process.communicate()
    stop.set()
    await serving
    return float(output)


def run(coroutine):
    """On uvloop, as bench_gateway's callers run."""
    try:
        import uvloop

        return uvloop.run(coroutine)
    except ImportError:
        return asyncio.run(coroutine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    others = set(range(os.cpu_count() or 1)) - {0}
    if others:
        os.sched_setaffinity(0, others)
    with tempfile.TemporaryDirectory() as folder:
        binary = Path(folder) / "send_floor"
        source = Path(__file__).with_name("send_floor.c")
        subprocess.run(["gcc", "-O2", "-o", str(binary), str(source)], check=True)
        print(f"load average before start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        for reading in (False, True):
            used = run(measure(binary, args.calls, args.seconds, reading))
            what = "sends, and a recv per 40 ms" if reading else "sends only"
            print(
                f"{args.calls} connections, {what}: {used / args.seconds:.1%} of a core, "
                f"{used / args.seconds / args.calls * 1000:.2f} ms CPU per call-second "
                f"({used / (args.seconds * args.calls * 50) * 1e6:.1f} us per frame sent)"
            )
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
