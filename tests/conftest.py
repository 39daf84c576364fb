"""Fixtures shared by every suite."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterable
from pathlib import Path

import pytest
import pytest_asyncio

from tests.support.processes import ServiceProcess, start_service

# Tasks a test left behind get this long to finish (e.g. cancelled in a teardown but
# not yet run to their end, or asyncio closing an abandoned async generator, which may await
# its cleanup) before they count as leaked. A leak stays pending for good; the wait ends as
# soon as the tasks are done, so a generous bound costs nothing. 0.25 s was missed once with
# 5 parallel workers on 2 cores (a Synthesize stream closed mid-way by its client).
PENDING_TASK_GRACE_SECONDS = 2.0

# A gRPC aio server keeps one task waiting for its next call and starts a new one after
# each call: created during a test, it belongs to the server (stopped by its fixture).
SERVER_WAITING_TASKS = frozenset({"AioServer._request_registered_call"})


class PendingTasksWarning(UserWarning):
    """Asyncio tasks left pending by a test where that is tolerated (pytest.ini)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "pending_tasks_tolerated_in",
        "test paths where asyncio tasks a test leaves pending are a warning instead of a failure",
        type="linelist",
        default=[],
    )


# Markers of tests that take seconds to a minute or more each (whole-stack calls wait on real
# time). In a parallel run their files are handed out first, so the longest work does not begin
# last on one worker while the others sit idle.
HEAVY_MARKERS = ("e2e", "acoustic", "slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a pytest-xdist worker (`make test`, `make test-all`), put the heaviest files first.

    The Makefile runs `--dist loadfile --no-loadscope-reorder`: each file is one unit of work
    (its module-scoped fixtures, a whole stack or a database, are set up once, on one worker,
    and its tests run in their order) and units are handed out in the order the workers
    collected them, this one. (`--dist loadgroup` would let single tests go alone, but with
    pytest 9 xdist 3.8 no longer tags grouped node ids, so it distributes test by test.)
    """
    if hasattr(config, "workerinput"):  # set on xdist workers only; a plain run keeps its order
        items[:] = heaviest_files_first(items)


def file_of(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def heaviest_files_first(items: Iterable[pytest.Item]) -> list[pytest.Item]:
    """Items regrouped by file, files ordered by their heaviest marker (collection order kept
    within each rank and each file)."""
    by_file: dict[str, list[pytest.Item]] = {}
    for item in items:
        by_file.setdefault(file_of(item), []).append(item)

    def rank(file_items: list[pytest.Item]) -> int:
        marked = {
            marker for item in file_items for marker in HEAVY_MARKERS if item.get_closest_marker(marker)
        }
        return min((HEAVY_MARKERS.index(marker) for marker in marked), default=len(HEAVY_MARKERS))

    files = sorted(by_file.values(), key=rank)
    return [item for file_items in files for item in file_items]


@pytest.fixture
def run_service(tmp_path):
    """Factory: start a service process; every process is stopped at teardown."""
    started: list[ServiceProcess] = []

    def start(module: str, prefix: str, env: dict[str, str] | None = None, extra_ports=()) -> ServiceProcess:
        service = start_service(module, prefix, tmp_path / "logs", env, tuple(extra_ports))
        started.append(service)
        return service

    yield start
    for service in started:
        service.kill()


@pytest.fixture(autouse=True)
def no_pending_tasks_left(request: pytest.FixtureRequest):
    """Fails an async test that leaves asyncio tasks pending once it and its fixtures are done.

    Autouse, so set up before the test's other fixtures and torn down after them; it
    holds the test's event loop (pytest-asyncio's runner fixture) open until it has looked.
    Only tasks created during the test count: module-scoped fixtures may keep theirs.
    """
    item = request.node
    if not pytest_asyncio.is_async_test(item):
        yield
        return
    # pytest-asyncio names its loop runners "_<scope>_scoped_runner" (pinned in constraints.txt).
    runner = request.getfixturevalue(f"_{loop_scope(item)}_scoped_runner")
    before = asyncio.all_tasks(runner.get_loop())
    yield
    leaked = runner.run(tasks_left_pending(before))
    if not leaked:
        return
    message = f"{len(leaked)} asyncio task(s) left pending: " + "; ".join(map(describe_task, leaked))
    if tolerated(item):
        warnings.warn(PendingTasksWarning(message), stacklevel=1)
    else:
        pytest.fail(message, pytrace=False)


def loop_scope(item: pytest.Item) -> str:
    marker = item.get_closest_marker("asyncio")
    scope = marker.kwargs.get("loop_scope") if marker else None
    return scope or item.config.getini("asyncio_default_test_loop_scope") or "function"


async def tasks_left_pending(before: set[asyncio.Task]) -> list[asyncio.Task]:
    """Tasks created since `before` still pending after the grace period."""
    new = {
        task
        for task in asyncio.all_tasks() - before - {asyncio.current_task()}
        if coroutine_name(task) not in SERVER_WAITING_TASKS
    }
    if new:
        await asyncio.wait(new, timeout=PENDING_TASK_GRACE_SECONDS)
    return [task for task in new if not task.done()]


def coroutine_name(task: asyncio.Task) -> str:
    coro = task.get_coro()
    return str(getattr(coro, "__qualname__", repr(coro)))


def describe_task(task: asyncio.Task) -> str:
    return f"{task.get_name()} running {coroutine_name(task)}"


def tolerated(item: pytest.Item) -> bool:
    where = Path(str(item.path)).resolve()
    root = item.config.rootpath
    return any(where.is_relative_to(root / path) for path in item.config.getini("pending_tasks_tolerated_in"))
