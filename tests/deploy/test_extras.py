"""CrewAI and the Azure Speech SDK are pip extras: declared, and asked for clearly when missing.

The missing-package cases run the real service entry points in a child process in which
the package cannot be imported (`sys.modules[name] = None` makes Python refuse it, as if
it were not installed), with the setting that needs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from porteiro_common.extras import MissingExtra, is_installed, require_extra

ROOT = Path(__file__).resolve().parents[2]

# (service, the setting that asks for the extra, module hidden, install command in the message)
CASES = [
    (
        "porteiro_concierge",
        {"PORTEIRO_CONCIERGE_LLM_MODEL": "openai/porteiro-test"},
        "crewai",
        "pip install 'porteiro-concierge[llm]'",
    ),
    (
        "porteiro_speech",
        {"PORTEIRO_SPEECH_AZURE_KEY": "test-key", "PORTEIRO_SPEECH_AZURE_REGION": "brazilsouth"},
        "azure.cognitiveservices.speech",
        "pip install 'porteiro-speech[azure]'",
    ),
]


def _project(service: str) -> dict:
    return tomllib.loads((ROOT / "services" / service / "pyproject.toml").read_text())["project"]


@pytest.mark.parametrize(
    ("service", "extra", "package"), [("concierge", "llm", "crewai"), ("speech", "azure", "azure")]
)
def test_optional_packages_are_extras_not_dependencies(service, extra, package):
    project = _project(service)
    assert not any(dependency.startswith(package) for dependency in project["dependencies"])
    assert any(dependency.startswith(package) for dependency in project["optional-dependencies"][extra])


def _start(service: str, settings: dict[str, str], hidden: str) -> subprocess.CompletedProcess[str]:
    code = f"import sys; sys.modules[{hidden!r}] = None; from {service}.__main__ import main; main()"
    env = {**os.environ, **settings, "OTEL_TRACES_EXPORTER": "none"}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(("service", "settings", "hidden", "install"), CASES)
def test_a_setting_that_needs_a_missing_extra_stops_the_service_naming_it(service, settings, hidden, install):
    finished = _start(service, settings, hidden)
    assert finished.returncode == 1, finished.stderr
    last_line = finished.stderr.strip().splitlines()[-1]
    assert install in last_line and next(iter(settings)) in last_line, finished.stderr
    assert "Traceback" not in finished.stderr


def test_require_extra_passes_for_an_installed_module_and_names_a_missing_one():
    require_extra("json", distribution="x", extra="y", needed_by="a test")  # installed: nothing raised
    with pytest.raises(MissingExtra, match=r"PORTEIRO_X is set but no_such_module_for_porteiro is not"):
        require_extra(
            "no_such_module_for_porteiro", distribution="porteiro-x", extra="y", needed_by="PORTEIRO_X is set"
        )
    assert not is_installed("no_such_package_for_porteiro.sub")  # a missing parent is "not installed"
