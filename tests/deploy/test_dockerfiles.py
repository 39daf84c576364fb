"""services/Dockerfile: one target per service image; pinned base, multi-stage, non-root.

There is no Docker engine here; these checks read the files the way `docker build` would.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from porteiro_gateway.media_engine import native_available
from tests.deploy.chart import REPO

# services/<dir> -> python -m <package>
SERVICES = {
    "gateway": "porteiro_gateway",
    "speech": "porteiro_speech",
    "concierge": "porteiro_concierge",
    "directory": "porteiro_directory",
    "dialer": "porteiro_dialer",
    "register": "porteiro_register",
}


DOCKERFILE = REPO / "services" / "Dockerfile"


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


def stages(path: Path = DOCKERFILE) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """Stage name -> (what it is FROM, its instructions)."""
    result: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    current: list[tuple[str, str]] = []
    for keyword, rest in instructions(path):
        if keyword == "FROM":
            base, _, name = rest.partition(" AS ")
            current = []
            result[name.strip()] = (base.strip(), current)
        else:
            current.append((keyword, rest))
    return result


def test_base_image_is_pinned_by_tag():
    args = dict(a.split("=", 1) for k, a in instructions(DOCKERFILE) if k == "ARG" and "=" in a)
    base = args["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base), base
    found = stages()
    assert found["build"][0] == found["runtime"][0] == "${PYTHON_IMAGE}"


@pytest.mark.parametrize(("service", "package"), list(SERVICES.items()))
def test_each_target_holds_one_service_and_runs_it_as_non_root(service, package):
    found = stages()
    base, build = found[f"build-{service}"]
    assert base == "build"
    assert ("COPY", f"services/{service} ./services/{service}") in build
    installs = [a for k, a in build if k == "RUN" and "pip install" in a]
    assert installs == [f'pip install -c constraints.txt "./services/{service}${{EXTRAS:+[$EXTRAS]}}"']
    assert ("ARG", "EXTRAS") in build, "a stage sees a global ARG only when it declares it"
    assert not any(f"services/{other}" in a for k, a in found["build"][1] for other in SERVICES)
    if service == "gateway":  # its native media edge is compiled in its build stage, and checked
        assert any(k == "RUN" and "gcc" in a for k, a in build)
        checks = [a for k, a in build if k == "RUN" and a.startswith("python -c ")]
        assert checks == [
            'python -c "from porteiro_gateway import edge_endpointer; assert edge_endpointer.available()"'
        ]
        if native_available():  # the check passes where the edge is built (make setup), as in the image
            subprocess.run([sys.executable, "-c", checks[0].split('"')[1]], check=True)

    base, target = found[service]
    assert base == "runtime"
    assert ("COPY", f"--from=build-{service} /opt/venv /opt/venv") in target
    runtime_env = " ".join(a for k, a in found["runtime"][1] if k == "ENV")
    assert "PYTHONUNBUFFERED=1" in runtime_env
    users = [a for k, a in target if k == "USER"]
    assert users and users[-1] == "10001:10001", "numeric uid lets Kubernetes verify runAsNonRoot"
    assert target[-2:] == [("USER", "10001:10001"), ("ENTRYPOINT", f'["python", "-m", "{package}"]')]
    assert (REPO / "services" / service / "src" / package / "__main__.py").exists()


@pytest.mark.parametrize(
    ("extras", "installed"),
    [
        ("", "./services/concierge"),
        ("llm", "./services/concierge[llm]"),
        ("llm,azure", "./services/concierge[llm,azure]"),
    ],
)
def test_the_extras_build_argument_picks_the_optional_dependencies(extras, installed):
    """The concierge stage's pip command, run by the shell with `pip` replaced by `echo`."""
    args = dict(a.split("=", 1) for k, a in instructions(DOCKERFILE) if k == "ARG" and "=" in a)
    assert args["EXTRAS"] == '""', "no extras unless asked for"
    install = next(a for k, a in stages()["build-concierge"][1] if k == "RUN" and "pip install" in a)
    shown = subprocess.run(
        ["sh", "-c", install.replace("pip install", "echo", 1)],
        env={"EXTRAS": extras, "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout.split() == ["-c", "constraints.txt", installed]


def test_the_common_library_is_installed_once_for_every_service():
    build = stages()["build"][1]
    assert ("RUN", "pip install -c constraints.txt ./libs/porteiro-common") in build


def test_make_images_builds_every_target():
    makefile = (REPO / "Makefile").read_text()
    listed = re.search(r"^SERVICES\s*[:?]?=\s*(.+)$", makefile, re.MULTILINE)
    assert listed and set(listed.group(1).split()) == set(SERVICES)
    assert "--target $$s" in makefile and "-f services/Dockerfile" in makefile


def test_hadolint_finds_nothing():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    result = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_speech_image_can_bake_the_model():
    found = stages()
    build = found["build-speech"][1]
    assert ("ARG", "BAKE_MODEL=true") in build
    bake = next(a for k, a in build if k == "RUN" and "model_assets" in a)
    assert "--assemble --dest /models/whisper-base" in bake
    assert 'if [ "$BAKE_MODEL" = "true" ]' in bake
    speech = found["speech"][1]
    assert ("COPY", "--from=build-speech --chown=10001:10001 /models /models") in speech
    assert "PORTEIRO_MODEL_CACHE=/models" in " ".join(a for k, a in speech if k == "ENV")
    assert any(k == "RUN" and "espeak-ng" in a for k, a in speech)


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
