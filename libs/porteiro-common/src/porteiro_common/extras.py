"""Optional dependencies (pip extras): fail at start-up, saying what to install, when a setting needs one.

CrewAI (`porteiro-concierge[llm]`) and the Azure Speech SDK (`porteiro-speech[azure]`) are
large and only needed when their settings are set, so images and virtualenvs may leave them
out. A service whose settings ask for one that is missing stops before serving with one
line naming the setting, the missing module and the install command, instead of failing
on the first call.
"""

from __future__ import annotations

import importlib.util


class MissingExtra(SystemExit):
    """A setting asks for an optional dependency that is not installed.

    A SystemExit: the service stops with this message on stderr and exit status 1, no traceback.
    """


def is_installed(module: str) -> bool:
    """Whether `module` (dotted) can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package is missing, or a stand-in without a spec
        return False


def require_extra(module: str, *, distribution: str, extra: str, needed_by: str) -> None:
    """Raise MissingExtra unless `module` is importable.

    `needed_by` names what asks for it (the setting), e.g. "PORTEIRO_CONCIERGE_LLM_MODEL is set".
    """
    if is_installed(module):
        return
    raise MissingExtra(
        f"{needed_by} but {module} is not installed: pip install '{distribution}[{extra}]' "
        f"(images: docker build -f services/Dockerfile --build-arg EXTRAS={extra} ...)"
    )
