"""LRU cache of synthesized sentences, keyed by (text, voice, sample rate)."""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple


class SynthesisKey(NamedTuple):
    text: str
    voice: str
    sample_rate_hz: int


class SynthesisCache:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[SynthesisKey, bytes] = OrderedDict()

    def get(self, key: SynthesisKey) -> bytes | None:
        audio = self._entries.get(key)
        if audio is not None:
            self._entries.move_to_end(key)
        return audio

    def put(self, key: SynthesisKey, audio: bytes) -> None:
        if self.max_entries <= 0 or not audio:
            return
        self._entries[key] = audio
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __contains__(self, key: SynthesisKey) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)
