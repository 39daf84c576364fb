"""Loading and validating data files: both formats, and messages that name the bad entry."""

from __future__ import annotations

import json

import pytest

from porteiro_directory.data import DirectoryDataError, load_apartments
from porteiro_directory.settings import SAMPLE_DATA_FILE, DirectorySettings
from tests.directory.conftest import BLOCKS_FILE, PROTOTYPE_FILE


def test_default_data_file_is_the_shipped_sample_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = DirectorySettings().data_file
    assert path == SAMPLE_DATA_FILE and path.is_absolute() and path.exists()
    apartments = load_apartments(path)
    assert [a.number for a in apartments][:2] == ["101", "102"]


def test_shipped_sample_has_the_prototype_aliases_as_data():
    residents = {r.name: r for a in load_apartments(SAMPLE_DATA_FILE) for r in a.residents}
    assert set(residents["Daner dos Reis"].aliases) == {"Daniel", "Dani", "Danir", "Taner"}
    assert residents["Renata Oliveira"].aliases == ("Renato",)


def test_prototype_format_is_accepted_verbatim():
    apartments = load_apartments(PROTOTYPE_FILE)
    assert len(apartments) == 10
    apt = next(a for a in apartments if a.number == "501")
    assert apt.destination == "1003030" and apt.block == ""
    assert [r.name for r in apt.residents] == ["Renata Oliveira", "Daner dos Reis"]
    assert all(not r.aliases for r in apt.residents)


def test_extended_yaml_with_blocks_towers_and_aliases():
    apartments = load_apartments(BLOCKS_FILE)
    by_key = {(a.number, a.block): a for a in apartments}
    assert by_key[("101", "A")].residents[0].aliases == ("Paulinho",)
    assert by_key[("1002", "2")].destination == "sip:t2-1002@condominio.test"  # "tower" key
    assert by_key[("12", "A")].residents == ()


def test_extended_json_top_level_mapping(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(
        json.dumps(
            {
                "apartments": [
                    {
                        "number": 7,
                        "destination": "7000",
                        "residents": [{"name": "Ana", "aliases": ["Aninha"]}],
                    },
                ]
            }
        )
    )
    (apartment,) = load_apartments(path)
    assert apartment.number == "7" and apartment.residents[0].aliases == ("Aninha",)


def problems_of(tmp_path, document, suffix=".json") -> list[str]:
    path = tmp_path / f"bad{suffix}"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    with pytest.raises(DirectoryDataError) as raised:
        load_apartments(path)
    assert str(path) in str(raised.value)
    return raised.value.problems


GOOD = {"apartment_number": "101", "residents": ["Ana"], "voip_number": "sip:101@x"}


def test_duplicate_apartment_names_both_entries(tmp_path):
    problems = problems_of(
        tmp_path, [GOOD, {**GOOD, "apartment_number": "1.01"}, {**GOOD, "apartment_number": "1 01"}]
    )
    assert problems == [
        "entry 2 (apartment 1.01): duplicates entry 1",
        "entry 3 (apartment 1 01): duplicates entry 1",
    ]


def test_same_number_in_two_blocks_is_not_a_duplicate(tmp_path):
    path = tmp_path / "ok.json"
    path.write_text(json.dumps([{**GOOD, "block": "A"}, {**GOOD, "block": "B"}]))
    assert len(load_apartments(path)) == 2
    assert problems_of(tmp_path, [{**GOOD, "block": "A"}, {**GOOD, "block": "bloco a"}]) == [
        "entry 2 (apartment 101, block bloco a): duplicates entry 1"
    ]


def test_empty_names_and_aliases(tmp_path):
    problems = problems_of(
        tmp_path,
        [
            {**GOOD, "residents": ["Ana", "  "]},
            {**GOOD, "apartment_number": "102", "residents": [{"name": ""}]},
            {**GOOD, "apartment_number": "103", "residents": [{"name": "Rui", "aliases": ["", 3]}]},
        ],
    )
    assert problems == [
        "entry 1 (apartment 101): resident 2: name is missing or empty",
        "entry 2 (apartment 102): resident 1: name is missing or empty",
        "entry 3 (apartment 103): resident 1: aliases must be a list of non-empty names",
    ]


def test_missing_destination_and_number(tmp_path):
    problems = problems_of(
        tmp_path,
        [
            {"apartment_number": "101", "residents": ["Ana"]},
            {"residents": ["Ana"], "voip_number": "1"},
            {**GOOD, "apartment_number": "102", "voip_number": " "},
        ],
    )
    assert problems == [
        "entry 1 (apartment 101): destination (destination / voip_number) is missing or empty",
        "entry 2 (no apartment number): apartment number (number / apartment_number) is missing or empty",
        "entry 3 (apartment 102): destination (destination / voip_number) is missing or empty",
    ]


def test_unknown_fields_wrong_types_and_conflicting_keys(tmp_path):
    problems = problems_of(
        tmp_path,
        [
            {**GOOD, "residnets": []},
            "101",
            {**GOOD, "apartment_number": "102", "residents": "Ana"},
            {**GOOD, "apartment_number": "103", "destination": "2"},
        ],
    )
    assert problems == [
        "entry 1 (apartment 101): unknown field(s) residnets",
        "entry 2: expected an object, got str",
        "entry 3 (apartment 102): residents must be a list",
        "entry 4 (apartment 103): give only one of destination / voip_number",
    ]


@pytest.mark.parametrize(
    ("text", "suffix", "fragment"),
    [
        ("[{", ".json", "not valid JSON/YAML"),
        ("apartments: [", ".yaml", "not valid JSON/YAML"),
        ("{}", ".json", "expected a list of apartments"),
        ("[]", ".json", "the file lists no apartments"),
    ],
)
def test_unreadable_documents(tmp_path, text, suffix, fragment):
    (problem,) = problems_of(tmp_path, text, suffix)
    assert fragment in problem


def test_missing_file(tmp_path):
    with pytest.raises(DirectoryDataError, match="cannot read the file"):
        load_apartments(tmp_path / "nope.json")
