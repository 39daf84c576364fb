"""How evaluation callers speak: natural phrasings, every one carrying the values it claims."""

from pathlib import Path

import pytest

from porteiro_directory.spoken_numbers import find_apartment, normalize_block
from porteiro_sim.evaluation import phrasing as p
from porteiro_sim.evaluation.personas import DELIVERY, VISIT, draw_personas, load_targets
from porteiro_sim.evaluation.scoring import slot_heard

BLOCKS = Path(__file__).resolve().parents[1] / "directory" / "data" / "condominio_blocos.yaml"
QUESTIONS = [
    p.GREETING,
    p.ASK_INTENT,
    p.ASK_NAME,
    p.ASK_APARTMENT,
    p.ASK_RESIDENT,
    p.ASK_FULL_NAME,
    p.ASK_BOTH,
    p.WHICH_RESIDENT,
]


def personas(data=None, count=80, seed=3):
    return draw_personas(load_targets(data), count, seed, ["pt-br@150"])


def conversations(data=None):
    """Every persona answering every question twice (the second time rephrased)."""
    for persona in personas(data):
        book = p.Phrasebook(persona)
        for question in QUESTIONS * 2:
            yield persona, question, book.answer(question)


@pytest.mark.parametrize("data", [None, BLOCKS], ids=["sample", "blocks"])
def test_every_line_carries_what_it_claims(data):
    """Scored against its own text, every line is fully heard; apartments read back right."""
    for persona, question, line in conversations(data):
        assert line is not None and line.text.strip(), (question, persona)
        for kind, forms in line.slots.items():
            assert slot_heard(forms, line.text), (kind, forms, line.text)
        if p.APARTMENT in line.slots:
            target = persona.target
            parsed = find_apartment(
                line.text, exists=lambda number, target=target: number == target.apartment
            )
            assert parsed is not None and parsed.number == target.apartment, line.text
            if p.BLOCK in line.slots:
                assert normalize_block(parsed.block) == normalize_block(target.block), line.text


def test_phrasings_cover_the_natural_forms():
    texts = [p.plain(line.text) for _, _, line in conversations(BLOCKS)]
    texts += [p.plain(line.text) for _, _, line in conversations()]
    joined = " | ".join(texts)
    for expected in [
        "e uma visita",
        "vim visitar",
        "tenho uma entrega",
        "meu nome e",
        "apto ",
        "apartamento ",
        "bloco ",
        "torre ",
        "dona ",
        "seu ",
        "bom dia",
        "ze",  # an alias from the data file ("Zé")
    ]:
        assert f" {expected}" in f" {joined}" or expected in joined, expected
    assert any(company in joined for company in ("mercado livre", "ifood", "correios", "amazon", "rappi"))
    # Apartments as digits, as words and dictated.
    assert any(" 501" in f" {text}" or " 402" in f" {text}" for text in texts)
    assert "quinhentos e um" in joined or "quatrocentos e dois" in joined or "cento e um" in joined
    assert "zero" in joined


def test_phrasing_is_deterministic_per_persona():
    first = [line.text for _, _, line in conversations()]
    assert first == [line.text for _, _, line in conversations()]


def test_rephrasing_changes_the_words():
    changed = 0
    for persona in personas(count=40):
        book = p.Phrasebook(persona)
        first, second = book.answer(p.ASK_INTENT), book.answer(p.ASK_INTENT)
        changed += first.text != second.text
    assert changed >= 35


def test_answers_to_each_question_kind():
    persona = next(item for item in personas(count=40) if item.intent == DELIVERY and item.company)
    book = p.Phrasebook(persona)
    assert p.INTENT in book.answer(p.ASK_INTENT).slots
    name = book.answer(p.ASK_NAME)
    assert name.slots == {p.VISITOR_NAME: (p.plain(persona.visitor_name),)}
    keys = book.answer(p.KEYPAD)
    assert keys.keyed and keys.text == f"#{persona.target.apartment}#"
    assert book.answer(p.CONFIRMATION).text == "Sim."
    full = book.answer(p.ASK_FULL_NAME)  # "Qual é o nome completo do morador?"
    assert persona.target.resident in full.text
    assert full.slots == {p.RESIDENT: (p.plain(persona.target.resident),)}
    which = book.answer(p.WHICH_RESIDENT)
    assert persona.target.resident in which.text and persona.target.apartment in which.text
    assert book.answer("something new") is None


def test_visit_intent_phrasings_use_the_visitors_gender():
    for persona in personas(count=60):
        if persona.intent != VISIT:
            continue
        book = p.Phrasebook(persona)
        for _ in range(6):
            text = book.answer(p.ASK_INTENT).text
            assert ("amigo" not in text) or not persona.visitor_is_female, text
            assert ("amiga" not in text) or persona.visitor_is_female, text


def test_the_resident_decides_as_drawn():
    for persona in personas(count=40):
        line = p.decision_line(persona)
        assert line.text in p.DECISION_LINES[persona.decision]
        assert slot_heard(line.slots[p.DECISION], line.text)
        assert p.decision_keys(persona).text == p.DECISION_KEYS[persona.decision]


def test_confirmations_are_answered_by_whom_they_name():
    targets = load_targets()
    persona = next(item for item in personas(count=40) if item.target.resident == "Letícia Lima")
    book = p.Phrasebook(persona, tuple(target.resident for target in targets))

    def answer(sentence):
        return book.answer(p.CONFIRMATION, sentence)

    def yes(sentence):
        said = answer(sentence)
        # What must be heard is the line's own yes-or-no word ("Isso." must not be scored as "sim").
        assert said.slots[p.DECISION] == (p.yes_or_no_word(said.text),) and p.plain(said.text).count(
            said.slots[p.DECISION][0]
        )
        return said.text in p.CONFIRM_YES

    assert yes("Letícia Lima, do 301?")
    assert yes("É para o apartamento 301?")
    # A housemate of the same apartment is not whom the visitor came for.
    assert not yes("Rodrigo Lima, do 301?")
    assert not yes("Mariana Costa, do 202?")
    # Known only by its beginning: the values are unknown; yes (the destination still tells).
    assert yes("Confirma…")
    said = {answer("Letícia Lima, do 301?").text for _ in range(12)}
    assert said <= set(p.CONFIRM_YES) and len(said) > 1


def test_the_intent_asked_as_a_yes_or_no_is_answered_by_the_personas_intent():
    for persona in personas(count=20):
        book = p.Phrasebook(persona)
        is_delivery, is_visit = book.answer(p.IS_DELIVERY), book.answer(p.IS_VISIT)
        assert is_delivery is not None and is_visit is not None
        assert (is_delivery.text in p.CONFIRM_YES) == (persona.intent == DELIVERY)
        assert (is_visit.text in p.CONFIRM_YES) == (persona.intent == VISIT)
        assert is_delivery.slots[p.DECISION] == (p.yes_or_no_word(is_delivery.text),)


def test_the_yes_or_no_word_of_a_confirmation_line_is_what_must_be_heard():
    words = {text: p.yes_or_no_word(text) for text in (*p.CONFIRM_YES, *p.CONFIRM_NO)}
    assert words == {
        "Sim.": "sim",
        "Isso.": "isso",
        "Sim, isso mesmo.": "sim",
        "É isso.": "isso",
        "Não.": "nao",
        "Não, não é.": "nao",
        "Não é esse, não.": "nao",
    }
