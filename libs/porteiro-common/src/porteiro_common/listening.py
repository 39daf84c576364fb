"""Telling whoever started a service which ports it is listening on.

A service started with its ports set to 0 binds any free port; with its
``<PREFIX>PORTS_FILE`` setting naming a file, it appends one JSON line per
listening socket, e.g. ``{"listener": "grpc", "port": 50731}``, once that socket
accepts connections. Supervisors (the test harness, the simulators' stack) read
the file instead of probing for "free" ports, which parallel runs race for.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def report_listening(ports_file: Path | None, listener: str, port: int) -> None:
    """Log that `listener` ("grpc", "metrics", "visitor", ...) accepts on `port`; append it to `ports_file`."""
    log.info("%s listening on port %d", listener, port, extra={"listener": listener, "port": port})
    if ports_file is None:
        return
    with ports_file.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"listener": listener, "port": port}) + "\n")


def read_ports(ports_file: Path) -> dict[str, int]:
    """The ports reported so far in `ports_file`, by listener; {} while it does not exist.

    A line still being written (no newline yet) is left for the next read.
    """
    try:
        text = ports_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    ports: dict[str, int] = {}
    for line in text.splitlines(keepends=True):
        if line.endswith("\n"):
            entry = json.loads(line)
            ports[str(entry["listener"])] = int(entry["port"])
    return ports
