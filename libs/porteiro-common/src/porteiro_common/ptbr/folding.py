"""Case and accent folding: how both sides of every comparison of spoken text are made alike.

Speech recognition writes "Dona RENATA Oliveira?", "Não, É o 502" or "apto. 501"; data files
write "Vinícius". Two levels:

- `fold`: lower case without accents, everything else kept ("Não, É o 502" -> "nao, e o 502"),
  for patterns that still care about punctuation or apostrophes;
- `plain`: `fold`, then anything but ASCII letters and digits becomes a single space
  ("Dona RENATA d'Ávila!" -> "dona renata d avila"), for matching and keys.
"""

from __future__ import annotations

import re
import unicodedata

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def strip_accents(text: str) -> str:
    """Combining marks removed ("Vinícius Ávila" -> "Vinicius Avila"); case and the rest kept."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def fold(text: str) -> str:
    """Lower case (casefold) without accents; punctuation and spacing kept."""
    return strip_accents(text.casefold())


def plain(text: str) -> str:
    """Folded, and any run of characters other than a-z and 0-9 turned into one space, trimmed."""
    return _NOT_ALNUM.sub(" ", fold(text)).strip()
