"""A TCP proxy the tests can cut, to make a dependency unreachable without stopping it.

Used for RabbitMQ (never stop the machine's broker: others use it) and to put
two concierge processes behind one address, as a Kubernetes Service would.
"""

from __future__ import annotations

import asyncio
import contextlib

from porteiro_sim.stack import free_port


class TcpProxy:
    def __init__(self, backend_port: int, backend_host: str = "127.0.0.1") -> None:
        self.backend = (backend_host, backend_port)
        self.port = free_port()
        self._server: asyncio.AbstractServer | None = None
        self._pipes: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def cut(self) -> None:
        """Stop listening and reset every open connection."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            transport = writer.transport
            with contextlib.suppress(Exception):
                transport.abort()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    def switch(self, backend_port: int, backend_host: str = "127.0.0.1") -> None:
        """New connections go to another backend (existing ones are left alone)."""
        self.backend = (backend_host, backend_port)

    async def _handle(self, client_reader, client_writer) -> None:
        try:
            backend_reader, backend_writer = await asyncio.open_connection(*self.backend)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers.update({client_writer, backend_writer})
        pipes = [asyncio.create_task(_pipe(client_reader, backend_writer)),
                 asyncio.create_task(_pipe(backend_reader, client_writer))]
        self._pipes.update(pipes)
        await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        for task in pipes:
            task.cancel()
        for writer in (client_writer, backend_writer):
            writer.transport.abort()
            self._writers.discard(writer)
        self._pipes.difference_update(pipes)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
