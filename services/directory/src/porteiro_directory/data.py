"""The condominium's data file: reading, both accepted formats, validation.

Two shapes are accepted, in JSON or YAML (the file suffix picks the parser;
YAML is tried for any other suffix):

* the prototype's ``data/apartamentos.json``: a list of
  ``{"apartment_number", "residents": [names], "voip_number"}``;
* the extended form: a list, or ``{"apartments": [...]}``, of
  ``{"number", "block" | "tower", "destination", "residents": [...]}`` where a
  resident is a name or ``{"name", "aliases": [...]}``.

Keys of both shapes may be mixed. Every problem is reported, each naming its
entry ("entry 3 (apartment 201, block A): ..."), never a resident's name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from porteiro_common.ptbr import plain
from porteiro_directory.spoken_numbers import normalize_block

ALIASES_OF_KEY = {
    "number": ("number", "apartment_number"),
    "block": ("block", "tower"),
    "destination": ("destination", "voip_number"),
    "residents": ("residents",),
}
KNOWN_KEYS = frozenset(key for keys in ALIASES_OF_KEY.values() for key in keys)
RESIDENT_KEYS = frozenset({"name", "aliases"})


@dataclass(frozen=True, slots=True)
class Resident:
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Apartment:
    number: str
    block: str
    residents: tuple[Resident, ...]
    destination: str


class DirectoryDataError(ValueError):
    """The data file cannot be used; `problems` lists every reason."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


@lru_cache(maxsize=8192)  # the same numbers recur in every block and condominium
def apartment_key(number: str) -> str:
    """How apartment numbers are compared: "1.002" -> "1002", "501-b" -> "501B"."""
    return plain(number).replace(" ", "").upper()


def read_document(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        return json.loads(text)
    return yaml.safe_load(text)


def load_apartments(path: Path | str) -> list[Apartment]:
    """Read and validate the data file; raises DirectoryDataError naming each bad entry."""
    path = Path(path)
    try:
        document = read_document(path)
    except OSError as error:
        raise DirectoryDataError(path, [f"cannot read the file: {error.strerror or error}"]) from error
    except (json.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError) as error:
        raise DirectoryDataError(path, [f"not valid JSON/YAML: {error}"]) from error
    return parse_apartments(document, path)


def parse_apartments(document: Any, path: Path | str = "<data>") -> list[Apartment]:
    if isinstance(document, Mapping) and set(document) == {"apartments"}:
        document = document["apartments"]
    if not isinstance(document, list):
        raise DirectoryDataError(path, ["expected a list of apartments (or {apartments: [...]})"])
    problems: list[str] = []
    apartments: list[Apartment] = []
    seen: dict[tuple[str, str], int] = {}
    for position, entry in enumerate(document, start=1):
        apartment = _parse_entry(position, entry, problems)
        if apartment is None:
            continue
        key = (normalize_block(apartment.block), apartment_key(apartment.number))
        if key in seen:
            problems.append(
                f"{_label(position, apartment.number, apartment.block)}: duplicates entry {seen[key]}"
            )
            continue
        seen[key] = position
        apartments.append(apartment)
    if not document:
        problems.append("the file lists no apartments")
    if problems:
        raise DirectoryDataError(path, problems)
    return apartments


def _label(position: int, number: str, block: str) -> str:
    where = f"apartment {number}" if number else "no apartment number"
    if block:
        where += f", block {block}"
    return f"entry {position} ({where})"


def _field(entry: Mapping[str, Any], name: str, label: str, problems: list[str]) -> Any:
    present = [key for key in ALIASES_OF_KEY[name] if key in entry]
    if len(present) > 1:
        problems.append(f"{label}: give only one of {' / '.join(present)}")
    return entry[present[0]] if present else None


def _text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, (int, str)):
        return str(value).strip()
    return ""


def _parse_entry(position: int, entry: Any, problems: list[str]) -> Apartment | None:
    if not isinstance(entry, Mapping):
        problems.append(f"entry {position}: expected an object, got {type(entry).__name__}")
        return None
    number = _text(entry.get("number", entry.get("apartment_number")))
    block = _text(entry.get("block", entry.get("tower")))
    label = _label(position, number, block)
    before = len(problems)
    unknown = sorted(str(key) for key in entry if key not in KNOWN_KEYS)
    if unknown:
        problems.append(f"{label}: unknown field(s) {', '.join(unknown)}")
    if not number or not apartment_key(number):
        problems.append(f"{label}: apartment number (number / apartment_number) is missing or empty")
    _field(entry, "number", label, problems)
    if _field(entry, "block", label, problems) is not None and not normalize_block(block):
        problems.append(f"{label}: block / tower is empty")
    destination = _text(_field(entry, "destination", label, problems))
    if not destination:
        problems.append(f"{label}: destination (destination / voip_number) is missing or empty")
    residents = _parse_residents(_field(entry, "residents", label, problems), label, problems)
    if len(problems) > before:
        return None
    return Apartment(number, block, residents, destination)


def _parse_residents(value: Any, label: str, problems: list[str]) -> tuple[Resident, ...]:
    if value is None:
        problems.append(f"{label}: residents is missing (use [] for an empty apartment)")
        return ()
    if not isinstance(value, list):
        problems.append(f"{label}: residents must be a list")
        return ()
    residents = []
    for index, item in enumerate(value, start=1):
        resident = _parse_resident(item, f"{label}: resident {index}", problems)
        if resident is not None:
            residents.append(resident)
    return tuple(residents)


def _parse_resident(item: Any, label: str, problems: list[str]) -> Resident | None:
    if isinstance(item, str):
        item = {"name": item}
    if not isinstance(item, Mapping):
        problems.append(f"{label}: expected a name or {{name, aliases}}, got {type(item).__name__}")
        return None
    unknown = sorted(str(key) for key in item if key not in RESIDENT_KEYS)
    if unknown:
        problems.append(f"{label}: unknown field(s) {', '.join(unknown)}")
    name = item.get("name")
    if not isinstance(name, str) or not plain(name):
        problems.append(f"{label}: name is missing or empty")
        return None
    aliases = item.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and plain(a) for a in aliases):
        problems.append(f"{label}: aliases must be a list of non-empty names")
        return None
    return Resident(name.strip(), tuple(alias.strip() for alias in aliases))
