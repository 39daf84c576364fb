"""The suite's guard against asyncio tasks a test leaves pending (tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.support.processes import REPO

pytest_plugins = ("pytester",)

CONFTEST = "from tests.conftest import no_pending_tasks_left, pytest_addoption  # noqa: F401\n"

LEAKING_TEST = """
import asyncio

async def wait_forever():
    await asyncio.Event().wait()

async def test_leaves_a_task_behind():
    asyncio.create_task(wait_forever(), name="forgotten")

async def test_cleans_up():
    task = asyncio.create_task(wait_forever())
    task.cancel()

def test_sync_is_not_checked():
    pass
"""

INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"


@pytest.fixture
def leaking_suite(pytester: pytest.Pytester, monkeypatch) -> pytest.Pytester:
    monkeypatch.syspath_prepend(str(REPO))  # the inner run imports tests.conftest
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_leaks=LEAKING_TEST)
    return pytester


def test_a_test_leaving_a_task_pending_fails_naming_its_coroutine(leaking_suite):
    leaking_suite.makeini(INI)
    result = leaking_suite.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*1 asyncio task(s) left pending: forgotten running wait_forever*"])


def test_tolerated_paths_only_warn(leaking_suite):
    leaking_suite.makeini(INI + "pending_tasks_tolerated_in =\n    .\n")
    result = leaking_suite.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, warnings=1)
    result.stdout.fnmatch_lines(["*PendingTasksWarning: 1 asyncio task(s) left pending: forgotten*"])
