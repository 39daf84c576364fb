"""Who calls in an evaluation run: personas drawn with a seed from the condominium's data file.

A persona is a visitor (intent, first name, company for deliveries), the resident they
come for (taken from the directory file the stack serves), the resident's decision, the
voices of both, and a way of speaking (see phrasing.py). Drawing depends only on the seed,
the call's index and the data file, so a run is repeatable.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from porteiro_directory.data import Apartment, load_apartments
from porteiro_directory.settings import SAMPLE_DATA_FILE

DELIVERY, VISIT = "delivery", "visit"
YES, NO, FRONT_DESK = "yes", "no", "front_desk"

# Common Brazilian first names (IBGE's most frequent), the visitors'.
FEMALE_NAMES = (
    "Maria", "Ana", "Francisca", "Antônia", "Adriana", "Juliana", "Márcia", "Fernanda", "Patrícia",
    "Aline", "Sandra", "Camila", "Amanda", "Bruna", "Jéssica", "Letícia", "Júlia", "Luciana",
    "Vanessa", "Mariana", "Gabriela", "Beatriz", "Larissa", "Carla", "Joana", "Cláudia",
)  # fmt: skip
MALE_NAMES = (
    "José", "João", "Antônio", "Francisco", "Carlos", "Paulo", "Pedro", "Lucas", "Luiz", "Marcos",
    "Luís", "Gabriel", "Rafael", "Daniel", "Marcelo", "Bruno", "Eduardo", "Felipe", "Raimundo",
    "Rodrigo", "Thiago", "Mateus", "André", "Fábio", "Gustavo", "Diego",
)  # fmt: skip
# Delivery companies, each with the contraction it takes ("do iFood", "dos Correios", "da Amazon").
DELIVERY_COMPANIES = {
    "Mercado Livre": "do",
    "iFood": "do",
    "Correios": "dos",
    "Amazon": "da",
    "Rappi": "do",
    "Shopee": "da",
    "Magalu": "da",
    "Loggi": "da",
}

# Female first names that do not end in "a", and male ones that do (for "dona"/"seu", "a"/"o").
_FEMALE_EXCEPTIONS = frozenset(
    {"beatriz", "raquel", "isabel", "ester", "ingrid", "carmen", "miriam", "thais", "lais", "ines", "alice",
     "simone", "liz", "nicole", "rute", "elisabete", "ivone", "irene", "denise", "cristiane", "luz"}
)  # fmt: skip
_MALE_EXCEPTIONS = frozenset({"luca", "joshua", "nikolas", "andrea", "jonas", "elias"})


@dataclass(frozen=True)
class Target:
    """The resident a persona comes for, as the directory file has them."""

    resident: str  # full name
    aliases: tuple[str, ...]
    apartment: str
    block: str  # "" when the condominium has no blocks
    destination: str  # what the PBX is asked to call
    tower: bool = False  # the file says "tower" rather than "block" (only changes how it is said)


@dataclass(frozen=True)
class Persona:
    index: int
    intent: str  # DELIVERY or VISIT
    visitor_name: str
    company: str  # "" for visits (and for deliverers who do not say it)
    target: Target
    decision: str  # YES, NO or FRONT_DESK (the resident's)
    visitor_voice: str  # "pt-br+m3@150" (see voices.py)
    resident_voice: str
    seed: str  # seeds the phrasing the caller draws during the call

    @property
    def visitor_is_female(self) -> bool:
        return is_female(self.visitor_name)


def is_female(first_name: str) -> bool:
    """A first name's grammatical gender, by its ending (enough for "dona"/"seu" and "o"/"a")."""
    word = first_name.split()[0].casefold() if first_name.strip() else ""
    plain_word = word.replace("í", "i").replace("á", "a").replace("ê", "e").replace("é", "e")
    if plain_word in _FEMALE_EXCEPTIONS:
        return True
    if plain_word in _MALE_EXCEPTIONS:
        return False
    return plain_word.endswith("a")


def load_targets(data_file: Path | str | None = None) -> list[Target]:
    """Every resident of the data file (the directory's own reader: same formats, same checks)."""
    path = Path(data_file) if data_file else SAMPLE_DATA_FILE
    targets = [
        _target(apartment, resident.name, resident.aliases)
        for apartment in load_apartments(path)
        for resident in apartment.residents
    ]
    if not targets:
        raise ValueError(f"{path}: no apartment has residents; nobody to visit")
    return targets


def spoken_apartments(data_file: Path | str | None = None) -> list[str]:
    """What the concierge may take for an apartment and confirm ("Apartamento {apartment}?"): as the
    directory lists them to it (ListVocabulary), every apartment number, then every block or tower."""
    apartments = load_apartments(Path(data_file) if data_file else SAMPLE_DATA_FILE)
    numbers = dict.fromkeys(apartment.number for apartment in apartments)
    numbers.update(dict.fromkeys(apartment.block for apartment in apartments if apartment.block))
    return list(numbers)


def _target(apartment: Apartment, name: str, aliases: tuple[str, ...]) -> Target:
    # The directory reads "block" and "tower" alike; blocks named by numbers are said as towers.
    tower = apartment.block.isdigit()
    return Target(name, aliases, apartment.number, apartment.block, apartment.destination, tower)


def draw_personas(
    targets: list[Target], count: int, seed: int, voices: list[str], resident_voices: list[str] | None = None
) -> list[Persona]:
    """`count` personas; the same seed, targets and voices give the same personas."""
    if not voices:
        raise ValueError("at least one voice is needed")
    return [draw_persona(targets, index, seed, voices, resident_voices or voices) for index in range(count)]


def draw_persona(
    targets: list[Target], index: int, seed: int, voices: list[str], resident_voices: list[str]
) -> Persona:
    # A string seed is hashed with SHA-512 by `random`: stable across runs and Python processes.
    rng = random.Random(f"porteiro-eval/{seed}/{index}")
    intent = rng.choice((DELIVERY, VISIT))
    visitor_name = rng.choice(rng.choice((FEMALE_NAMES, MALE_NAMES)))
    company = rng.choice(sorted(DELIVERY_COMPANIES)) if intent == DELIVERY and rng.random() < 0.7 else ""
    target = rng.choice(targets)
    decisions = (YES, YES, YES, NO, FRONT_DESK) if intent == DELIVERY else (YES, YES, YES, NO)
    return Persona(
        index=index,
        intent=intent,
        visitor_name=visitor_name,
        company=company,
        target=target,
        decision=rng.choice(decisions),
        visitor_voice=rng.choice(voices),
        resident_voice=rng.choice(resident_voices),
        seed=f"{seed}/{index}/{rng.getrandbits(32)}",
    )
