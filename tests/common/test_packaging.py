"""porteiro-common's wheel ships its type information (PEP 561 `py.typed`) for both its packages."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_ships_py_typed_for_the_runtime_and_the_generated_stubs(tmp_path):
    # Built from a copy: setuptools writes build/ and egg-info next to the sources it builds.
    source = tmp_path / "porteiro-common"
    shutil.copytree(
        ROOT / "libs" / "porteiro-common",
        source,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path)]
        + [str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("porteiro_common-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"porteiro_common/py.typed", "porteiro/py.typed"} <= names
    assert "porteiro/directory/v1/directory_pb2.pyi" in names
