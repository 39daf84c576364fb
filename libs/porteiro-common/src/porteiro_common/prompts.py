"""The sentences Porteiro speaks, from a YAML file (pt-BR defaults shipped)."""

from __future__ import annotations

import string
from importlib import resources
from pathlib import Path

import yaml

DEFAULT_PROMPTS_FILE = Path(str(resources.files("porteiro_common") / "data" / "prompts.pt-BR.yaml"))


class PromptsError(ValueError):
    pass


def load_prompts(path: Path | str | None = None) -> dict[str, str]:
    """Read a flat mapping of prompt key -> sentence; raise PromptsError naming the problem."""
    source = Path(path) if path else DEFAULT_PROMPTS_FILE
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise PromptsError(f"cannot read prompts file {source}: {error}") from error
    if not isinstance(data, dict):
        raise PromptsError(f"prompts file {source} must be a mapping of key: sentence")
    bad = [key for key, value in data.items() if not isinstance(value, str) or not value.strip()]
    if bad:
        raise PromptsError(
            f"prompts file {source}: empty or non-text sentence for {', '.join(map(str, bad))}"
        )
    return {str(key): value.strip() for key, value in data.items()}


def is_fixed(sentence: str) -> bool:
    """True when the sentence has no {placeholder} to fill."""
    return not any(field for _, field, _, _ in string.Formatter().parse(sentence) if field is not None)


def fixed_sentences(prompts: dict[str, str], skip: tuple[str, ...] = ("condominium_name",)) -> list[str]:
    """Sentences worth pre-synthesizing: every prompt without placeholders."""
    return [text for key, text in prompts.items() if key not in skip and is_fixed(text)]
