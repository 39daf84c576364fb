"""The sentences the concierge speaks: the configured file over the pt-BR defaults."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from porteiro_common.prompts import load_prompts


class Prompts:
    def __init__(self, path: Path | None = None) -> None:
        sentences = load_prompts()  # every key has a default
        if path is not None:
            sentences.update(load_prompts(path))
        self._sentences = sentences

    @classmethod
    def from_sentences(cls, sentences: Mapping[str, str]) -> Prompts:
        """Prompts from a complete mapping (a condominium's, defaults already merged by the tenants loader)."""
        prompts = cls.__new__(cls)
        prompts._sentences = dict(sentences)
        return prompts

    def sentences(self) -> dict[str, str]:
        """Every sentence, by key (a copy)."""
        return dict(self._sentences)

    def __getitem__(self, key: str) -> str:
        return self._sentences[key]

    def text(self, key: str, **values: object) -> str:
        """The sentence `key` with its {placeholders} filled."""
        values.setdefault("condominium_name", self._sentences.get("condominium_name", ""))
        return self._sentences[key].format(**values)
