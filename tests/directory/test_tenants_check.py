"""`python -m porteiro_directory.tenants FOLDER`: checking a tenants folder before deploying it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "services/directory/examples/tenants"


def check(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "porteiro_directory.tenants", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_example_folder_is_valid():
    result = check(EXAMPLES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "ok        bosque-das-araras: code b05c0a2a, 'Condomínio Bosque das Araras', 4 apartments, 4 residents",
        "ok        jacaranda: code 1aca0da0, 'Residencial Jacarandá', 3 apartments, 4 residents",
    ]


def test_a_broken_condominium_is_named_with_its_file_and_field(tmp_path):
    folder = tmp_path / "tenants"
    shutil.copytree(EXAMPLES, folder)
    (folder / "bosque-das-araras" / "directory.json").write_text(
        '[{"apartment_number": "12", "residents": ["Sônia Queiroz"]}]', encoding="utf-8"
    )
    result = check(folder)
    assert result.returncode == 1
    rejected = [line for line in result.stdout.splitlines() if line.startswith("rejected")]
    assert rejected == [
        f"rejected  bosque-das-araras: {folder / 'bosque-das-araras' / 'directory.json'}: "
        "entry 1 (apartment 12): destination (destination / voip_number) is missing or empty"
    ]
    assert "Sônia" not in result.stdout + result.stderr  # never a resident's name
    assert any(line.startswith("ok        jacaranda") for line in result.stdout.splitlines())


def test_a_missing_folder_exits_2(tmp_path):
    result = check(tmp_path / "nowhere")
    assert result.returncode == 2
    assert "cannot list the tenants folder" in result.stdout
