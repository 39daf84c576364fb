"""Two runs started in the same second keep their logs and spans apart."""

from __future__ import annotations

from pathlib import Path

from porteiro_sim.stack import new_run_folder


def test_runs_in_the_same_second_get_folders_of_their_own(tmp_path: Path) -> None:
    first, second, third = (new_run_folder(tmp_path / "var", "eval") for _ in range(3))
    assert len({first, second, third}) == 3
    assert all(folder.is_dir() and folder.parent == tmp_path / "var" for folder in (first, second, third))
    assert all(folder.name.startswith("eval-") for folder in (first, second, third))
