"""Two runs started in the same second keep their logs and spans apart."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from porteiro_sim.stack import new_run_folder


def test_runs_in_the_same_second_get_folders_of_their_own(tmp_path: Path) -> None:
    first, second, third = (new_run_folder(tmp_path / "var", "eval") for _ in range(3))
    assert len({first, second, third}) == 3
    assert all(folder.is_dir() and folder.parent == tmp_path / "var" for folder in (first, second, third))
    assert all(folder.name.startswith("eval-") for folder in (first, second, third))


def test_services_die_with_the_run_that_started_them(tmp_path: Path) -> None:
    """A demo or evaluation killed outright must not leave its services running."""
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time\n"
            "from porteiro_sim.stack import _die_with_parent\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
            " preexec_fn=_die_with_parent)\n"
            "print(child.pid, flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    """Running (not a zombie waiting for init to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
