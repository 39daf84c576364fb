"""Personas: drawn from the directory file in use, the same for the same seed."""

from collections import Counter
from pathlib import Path

import pytest

from porteiro_directory.data import load_apartments
from porteiro_sim.evaluation.personas import (
    DELIVERY,
    FRONT_DESK,
    VISIT,
    draw_personas,
    is_female,
    load_targets,
)

BLOCKS = Path(__file__).resolve().parents[1] / "directory" / "data" / "condominio_blocos.yaml"
VOICES = ["pt-br+m3@150", "pt-br+f2@140"]


def test_same_seed_same_personas_other_seed_others():
    targets = load_targets()
    first = draw_personas(targets, 30, seed=7, voices=VOICES)
    assert first == draw_personas(targets, 30, seed=7, voices=VOICES)
    assert first != draw_personas(targets, 30, seed=8, voices=VOICES)
    # A longer run starts with the same calls: call i depends on (seed, i) only.
    assert draw_personas(targets, 40, seed=7, voices=VOICES)[:30] == first


def test_targets_come_from_the_data_file():
    sample = load_targets()
    residents = {
        resident.name for apartment in load_apartments(_sample_file()) for resident in apartment.residents
    }
    assert {target.resident for target in sample} == residents
    blocks = load_targets(BLOCKS)
    by_name = {target.resident: target for target in blocks}
    assert by_name["Paula Henriques Santos"].block == "B"
    assert by_name["José Antônio Ferreira"].aliases == ("Zé", "Tonho")
    assert by_name["José Antônio Ferreira"].tower  # "tower: 2" is said as a tower
    assert not by_name["Roberto Nunes"].tower
    assert all(target.destination.startswith("sip:") for target in blocks)


def _sample_file() -> Path:
    from porteiro_directory.settings import SAMPLE_DATA_FILE

    return SAMPLE_DATA_FILE


def test_a_run_covers_intents_decisions_voices_and_residents():
    personas = draw_personas(load_targets(BLOCKS), 60, seed=1, voices=VOICES)
    assert {persona.intent for persona in personas} == {DELIVERY, VISIT}
    assert {persona.visitor_voice for persona in personas} == set(VOICES)
    assert len({persona.target.resident for persona in personas}) >= 5
    decisions = Counter(persona.decision for persona in personas)
    assert decisions["yes"] > decisions["no"] > 0
    # Only deliveries are left at the front desk.
    assert all(persona.intent == DELIVERY for persona in personas if persona.decision == FRONT_DESK)
    assert any(persona.company for persona in personas if persona.intent == DELIVERY)
    assert not any(persona.company for persona in personas if persona.intent == VISIT)


def test_bad_data_file_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text('[{"apartment_number": "1", "residents": [], "voip_number": "sip:1@x"}]')
    with pytest.raises(ValueError, match="no apartment has residents"):
        load_targets(empty)
    with pytest.raises(ValueError, match="cannot read"):
        load_targets(tmp_path / "missing.yaml")
    with pytest.raises(ValueError, match="voice"):
        draw_personas(load_targets(), 1, seed=1, voices=[])


@pytest.mark.parametrize(
    ("name", "female"),
    [
        ("Renata", True),
        ("Beatriz", True),
        ("Lúcia", True),
        ("Raquel", True),
        ("Carlos", False),
        ("José", False),
    ],
)
def test_gender_of_first_names(name, female):
    assert is_female(name) is female
