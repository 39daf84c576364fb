"""The service images' Dockerfiles: pinned base, multi-stage, non-root, one service each.

There is no Docker engine here; these checks read the files the way `docker build` would.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.chart import REPO

# services/<dir> -> python -m <package>
SERVICES = {
    "audiosocket-gw": "porteiro_gateway",
    "speech": "porteiro_speech",
    "concierge": "porteiro_concierge",
    "directory": "porteiro_directory",
    "dialer": "porteiro_dialer",
}


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


@pytest.mark.parametrize(("service", "package"), list(SERVICES.items()))
def test_dockerfile_builds_one_service_as_non_root(service, package):
    dockerfile = REPO / "services" / service / "Dockerfile"
    steps = instructions(dockerfile)
    args = dict(a.split("=", 1) for k, a in steps if k == "ARG" and "=" in a)
    base = args["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base), base
    stages = [a for k, a in steps if k == "FROM"]
    assert stages == ["${PYTHON_IMAGE} AS builder", "${PYTHON_IMAGE} AS runtime"]
    installs = [a for k, a in steps if k == "RUN" and "pip install" in a]
    assert installs == [f"pip install -c constraints.txt ./libs/porteiro-common ./services/{service}"]
    copies = [a for k, a in steps if k == "COPY"]
    assert f"services/{service} ./services/{service}" in copies
    assert not any(f"services/{other} " in c for c in copies for other in SERVICES if other != service)
    runtime = steps[[i for i, (k, _) in enumerate(steps) if k == "FROM"][1] :]
    env = " ".join(a for k, a in runtime if k == "ENV")
    assert "PYTHONUNBUFFERED=1" in env
    users = [a for k, a in runtime if k == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert users[-1].split(":")[0].isdigit(), "numeric uid lets Kubernetes verify runAsNonRoot"
    assert steps[-1] == ("ENTRYPOINT", f'["python", "-m", "{package}"]')
    assert (REPO / "services" / service / "src" / package / "__main__.py").exists()


def test_speech_image_can_bake_the_model():
    steps = instructions(REPO / "services" / "speech" / "Dockerfile")
    assert ("ARG", "BAKE_MODEL=true") in steps
    bake = next(a for k, a in steps if k == "RUN" and "model_assets" in a)
    assert "--assemble --dest /models/whisper-base" in bake
    assert 'if [ "$BAKE_MODEL" = "true" ]' in bake
    runtime_env = " ".join(a for k, a in steps if k == "ENV")
    assert "PORTEIRO_MODEL_CACHE=/models" in runtime_env
    assert any(k == "RUN" and "espeak-ng" in a for k, a in steps)


def test_the_model_cache_variable_points_the_service_at_the_baked_model():
    # With PORTEIRO_MODEL_CACHE=/models the service finds (or, not baked, assembles) /models/whisper-base.
    code = "from porteiro_speech.model_assets import DEFAULT_MODEL_DIR; print(DEFAULT_MODEL_DIR)"
    env = {**os.environ, "PORTEIRO_MODEL_CACHE": "/models"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "/models/whisper-base"


def test_dockerignore_sends_only_what_images_need():
    lines = [ln.strip() for ln in (REPO / ".dockerignore").read_text().splitlines()]
    patterns = [ln for ln in lines if ln and not ln.startswith("#")]
    assert patterns[0] == "**", "everything is excluded first, then the needed paths re-included"
    for needed in (
        "!constraints.txt",
        "!libs/porteiro-common/**",
        "!services/*/src/**",
        "!services/*/pyproject.toml",
    ):
        assert needed in patterns
    assert "**/*.egg-info" in patterns and "**/__pycache__" in patterns
