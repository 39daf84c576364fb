"""The lint configuration matches the tree: ruff's first-party packages, mypy's packages, the pre-commit hooks."""

from __future__ import annotations

import configparser
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def packages_in_the_tree() -> set[str]:
    """Every importable package of ours: the shared library's, each service's and the simulator's."""
    sources = [
        ROOT / "libs" / "porteiro-common" / "src",
        *sorted((ROOT / "services").glob("*/src")),
        ROOT / "sim" / "src",
    ]
    return {
        package.name
        for source in sources
        for package in source.iterdir()
        if (package / "__init__.py").exists()
    }


def test_ruff_knows_every_package_of_ours_as_first_party_and_no_other():
    isort = tomllib.loads((ROOT / "ruff.toml").read_text())["lint"]["isort"]
    assert set(isort["known-first-party"]) == packages_in_the_tree() | {"tests"}


def test_mypy_checks_every_package_of_ours():
    config = configparser.ConfigParser()
    config.read(ROOT / "mypy.ini")
    checked = {Path(line.strip(" ,")).name for line in config["mypy"]["files"].split(",") if line.strip()}
    assert checked == packages_in_the_tree() - {"porteiro"}  # the generated code is checked through its stubs
    search_path = [line.strip() for line in config["mypy"]["mypy_path"].split(",") if line.strip()]
    assert all((ROOT / folder).is_dir() for folder in search_path)
    assert {str(path.relative_to(ROOT)) for path in (ROOT / "services").glob("*/src")} <= set(search_path)


def test_pre_commit_runs_what_make_lint_runs_with_the_local_tools():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    assert [repo["repo"] for repo in config["repos"]] == ["local"], "nothing to download"
    hooks = {hook["id"]: hook for hook in config["repos"][0]["hooks"]}
    lint = re.search(r"^lint:.*?\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert lint, "the Makefile has a lint target"
    recipe = lint.group(1).replace("$(VENV)", ".venv")
    for hook_id, command in (
        ("ruff-check", ".venv/bin/ruff check"),
        ("ruff-format", ".venv/bin/ruff format --check"),
        ("mypy", ".venv/bin/mypy"),
    ):
        assert hooks[hook_id]["entry"].startswith(command) and command in recipe
        assert hooks[hook_id]["language"] == "system"
    assert hooks["mypy"]["pass_filenames"] is False, "mypy checks the packages in mypy.ini as a whole"
