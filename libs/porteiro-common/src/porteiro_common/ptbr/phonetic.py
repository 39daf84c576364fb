"""A phonetic key for pt-BR words as speech recognition spells them on an 8 kHz line.

Whisper writes what it heard with Portuguese spelling, so two transcripts of the same sound
differ in spelling ("Cíntia"/"Sintia", "Vinicius"/"Vinísius", "Thiago"/"Tiago",
"Oliveira"/"Oliveria") or in a sound the telephone band blurs (voiced/voiceless pairs b/p,
d/t, g/k, v/f; the sibilants s/z/ç/ss; the open and closed vowels; a lost final syllable). The
key writes each word so that those variants come out alike or one letter apart, and rapidfuzz
then scores keys instead of spellings (`porteiro_concierge.understanding` uses both).

Rules, in order (each documented at its table):
1. lower case, "ç" -> "s", accents removed, anything but letters and digits dropped;
2. spelling digraphs to one sound ("lh" -> "l", "nh" -> "n", "ch"/"sh"/"x" -> "x", "qu"/"gu"
   before e/i -> "k"/"g", "c" before e/i -> "s", "g" before e/i -> "j", "ph" -> "f", silent "h");
3. letters to sound classes: voiced and voiceless pairs together (b p -> p, d t -> t, g k c q ->
   k, v f w -> f, s z -> s, j x -> x, m n -> n, y -> i), e/i -> i and o/u -> u (unstressed
   vowels in pt-BR are reduced towards them, and 8 kHz hides the rest);
4. "l" before a consonant or at the end sounds "u" ("Brasil" = "Brasiu");
5. runs of the same class collapse ("rr" -> "r", "ss" -> "s").

No maintained pt-BR phonetic library fitted here (pymetaphone-br 0.0.3 and fonema 1.0.8 were
considered: an early release, and a names-to-phonemes tool last released in 2023), so the rules
are ours, kept small and tested (`tests/concierge/test_matcher.py`).
"""

from __future__ import annotations

import re
from functools import lru_cache

from porteiro_common.ptbr.folding import plain

# Rule 2: spelling -> sound, longest first (applied left to right by one regex).
_DIGRAPHS = {
    "lh": "l",
    "nh": "n",
    "ch": "x",
    "sh": "x",
    "ph": "f",
    "th": "t",
    "qu": "k",
    "gu": "g",
    "sc": "s",
    "xc": "s",
}
_DIGRAPH = re.compile("|".join(sorted(_DIGRAPHS, key=len, reverse=True)))
# Rule 3: letter -> sound class.
_CLASSES = str.maketrans(
    {
        "b": "p",
        "d": "t",
        "g": "k",
        "c": "k",
        "q": "k",
        "v": "f",
        "w": "f",
        "z": "s",
        "j": "x",
        "m": "n",
        "y": "i",
        "e": "i",
        "o": "u",
    }
)
_VOWELS = frozenset("aeiou")


def _soft_before_front_vowels(word: str) -> str:
    """ "c" and "g" before e/i sound "s" and "j" ("Cecília", "Gilberto"); elsewhere "k" and "g"."""
    word = re.sub(r"c(?=[eiy])", "s", word)
    return re.sub(r"g(?=[eiy])", "j", word)


def _word_key(word: str) -> str:
    word = _soft_before_front_vowels(word)
    word = _DIGRAPH.sub(lambda match: _DIGRAPHS[match.group(0)], word)
    word = word.replace("h", "")  # silent once the digraphs are gone ("Helena", "Thiago")
    word = re.sub(r"l(?=[^aeiou]|$)", "u", word)  # rule 4
    word = word.translate(_CLASSES)
    return re.sub(r"(.)\1+", r"\1", word)  # rule 5


@lru_cache(maxsize=65536)
def phonetic_key(text: str) -> str:
    """The key of each word of `text`, space-separated ("Vinícius Barros" -> "finisius parus").

    Digits are kept as they are: a number's spoken forms are matched as words elsewhere.
    """
    folded = plain(text.replace("ç", "s").replace("Ç", "S"))
    return " ".join(_word_key(word) if not word.isdigit() else word for word in folded.split())
