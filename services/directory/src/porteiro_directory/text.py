"""Text folding shared by name matching and number parsing.

Speech recognition gives us "Dona RENATA Oliveira?" or "apto. 501"; both sides
of every comparison go through `fold` (lower case, no accents, no punctuation).
Names also lose honorifics ("dona", "sr.") and the articles/particles that
carry no identity ("a Renata", "Daner dos Reis").
"""

from __future__ import annotations

import re
import unicodedata

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")

HONORIFICS = frozenset(
    {
        "dona",
        "dna",
        "seu",
        "sr",
        "sra",
        "srta",
        "senhor",
        "senhora",
        "senhorita",
        "doutor",
        "doutora",
        "dr",
        "dra",
        "professor",
        "professora",
        "prof",
        "profa",
    }
)
# Articles and name particles: "a Renata", "o Carlos", "Daner dos Reis".
PARTICLES = frozenset({"a", "o", "as", "os", "da", "do", "das", "dos", "de", "e", "d"})


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def fold(text: str) -> str:
    """Lower case, accents removed, anything but letters and digits turned into single spaces."""
    return _NOT_ALNUM.sub(" ", strip_accents(text).casefold()).strip()


def name_tokens(text: str) -> list[str]:
    """The words of a person's name that identify them ("Dona Renata d'Ávila" -> renata, avila)."""
    return [word for word in fold(text).split() if word not in HONORIFICS and word not in PARTICLES]


def normalize_name(text: str) -> str:
    return " ".join(name_tokens(text))
