"""Recognition hints suited to each question, through the real Converse stream."""

from __future__ import annotations

from porteiro.directory.v1 import directory_pb2
from porteiro_concierge.hints import (
    APARTMENT_WORD,
    DECISION_HINTS,
    INTENT_HINTS,
    MAX_HINT_CHARS,
    NAME_ANSWER_HINTS,
    Vocabulary,
    capped,
    residents_by_apartment,
)


def every_hint_list_is_short(driver) -> None:
    for action in driver.actions:
        if action.WhichOneof("action") == "recognition":
            hints = list(action.recognition.hints)
            assert sum(len(hint) + 2 for hint in hints) <= MAX_HINT_CHARS, hints


async def test_each_question_brings_its_own_hints(concierge_factory, fakes, session_id):
    concierge = await concierge_factory(intent_in_confirmation=False)  # the intent asked alone
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.expect("em que posso ajudar")
    assert visitor.hints_before("em que posso ajudar") == list(INTENT_HINTS)

    await visitor.utter("Boa tarde")
    await visitor.expect("É uma entrega?")  # a yes or no: its answers first, then the intent words
    yes_no = visitor.hints_before("É uma entrega?")
    assert yes_no[:2] == ["Sim", "Isso"] and set(INTENT_HINTS) <= set(yes_no)

    await visitor.utter("Vim fazer uma visita")
    await visitor.expect("Qual é o seu nome")
    assert visitor.hints_before("Qual é o seu nome") == list(NAME_ANSWER_HINTS)  # no resident names

    await visitor.utter("Meu nome é Pedro Santos")
    await visitor.expect("apartamento e qual o nome do morador")
    both = visitor.hints_before("apartamento e qual o nome do morador")
    assert both[0] == APARTMENT_WORD and {"102", "501", "Carlos Oliveira"} <= set(both)

    await visitor.utter("apartamento 102")
    await visitor.expect("nome do morador")
    assert visitor.hints_before("Qual é o nome do morador") == ["Carlos Oliveira"]  # apartment 102's only

    await visitor.utter("Carlos")
    await visitor.expect("visita para Carlos Oliveira", "102")
    await fakes.dialer.next_call()
    assert visitor.recognition_count() == 5
    every_hint_list_is_short(visitor)

    resident = concierge.leg(session_id, "resident")
    await resident.start()
    await resident.expect("Pedro Santos", "visita")
    assert resident.hints_before("Pedro Santos") == list(DECISION_HINTS)
    await resident.utter("Não conheço.")
    await visitor.expect("não autorizou")
    await resident.expect_hangup()
    assert resident.recognition_count() == 1


async def test_apartment_questions_hint_apartment_numbers_only(concierge, fakes, session_id):
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.utter("Sou o João, entrega do iFood para o apartamento 909")
    await visitor.utter("Xavier")  # nobody's name: the number is kept, and not found
    await visitor.expect("Qual é o número do apartamento")
    apartments = visitor.hints_before("Qual é o número do apartamento")
    assert apartments[0] == APARTMENT_WORD and {"101", "501"} <= set(apartments)
    assert not any("Renata" in hint for hint in apartments)

    await visitor.utter("É o 808")
    await visitor.expect("Qual é o nome completo do morador")
    await visitor.utter("Xavier")
    await visitor.expect("jogo da velha")
    assert visitor.hints_before("jogo da velha") == apartments  # the keypad offer hints the apartment numbers
    await visitor.press("501#")
    await visitor.expect("apartamento 501")
    every_hint_list_is_short(visitor)


async def test_who_hints_the_residents_of_the_apartment_heard(concierge, fakes, session_id):
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.utter("Sou o Pedro, vim visitar o apartamento 501")
    await visitor.expect("Qual é o nome do morador")
    names = set(visitor.hints_before("Qual é o nome do morador"))
    assert {"Renata Oliveira", "Daner dos Reis"} <= names  # and their aliases, in the real directory
    assert not names & {"Carlos Oliveira", "Vinícius Barros", "Lucas Martins", "Ana Beatriz Silva"}


async def test_not_found_in_the_apartment_hints_its_residents_first(concierge, fakes, session_id):
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.utter("Meu nome é João, vim entregar uma encomenda para a Renata do 502")
    await visitor.expect("Não encontrei Renata no apartamento 502")
    again = visitor.hints_before("Não encontrei Renata")
    assert again[:3] == [APARTMENT_WORD, "Vinícius Barros", "Marina Barros"]  # 502's residents first
    assert {"501", "Renata Oliveira"} <= set(again)  # the apartment may have been misheard too


def test_resident_hints_without_a_known_apartment_are_everyone():
    vocabulary = Vocabulary(directory=None)
    vocabulary.residents = ["Ana", "Bruno", "Carla"]
    vocabulary.residents_of = residents_by_apartment(
        [
            directory_pb2.Apartment(
                number="12", residents=[directory_pb2.Resident(name="Ana", aliases=["Aninha"])]
            ),
            directory_pb2.Apartment(number="12", block="B", residents=[directory_pb2.Resident(name="Bruno")]),
        ]
    )
    assert vocabulary.for_question("resident_name", "12") == ["Ana", "Aninha", "Bruno"]  # both blocks' 12
    assert vocabulary.for_question("resident_name", "99") == ["Ana", "Bruno", "Carla"]
    assert vocabulary.for_question("resident_name", None) == ["Ana", "Bruno", "Carla"]
    assert vocabulary.for_question("apartment_and_resident", "12")[:4] == [
        "apartamento",
        "Ana",
        "Aninha",
        "Bruno",
    ]


async def test_a_guessed_intent_asked_with_whom_hears_yes_no_and_the_intent(concierge, fakes, session_id):
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.utter("Boa tarde, meu nome é Pedro Santos")
    await visitor.expect("apartamento e qual o nome do morador")
    await visitor.utter("apartamento 102, Carlos")
    await visitor.expect("É uma entrega para Carlos Oliveira, do 102?")
    hints = visitor.hints_before("É uma entrega para Carlos Oliveira")
    assert hints[:2] == ["Sim", "Isso"] and set(INTENT_HINTS) <= set(hints)  # "Não, é uma visita."


async def test_which_resident_hints_only_the_options(concierge_factory, fakes, session_id):
    concierge = await concierge_factory(confirm_options_up_to=1)  # two are read out, not confirmed in turn
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.utter("Boa noite, meu nome é Pedro, vim visitar o senhor Oliveira")
    await visitor.expect("mais de um morador")
    options = visitor.hints_before("mais de um morador")
    assert {"Renata Oliveira", "Carlos Oliveira", "501", "102"} <= set(options)
    assert "Lucas Martins" not in options


def test_hint_lists_are_capped_and_distinct():
    names = [f"Morador Número {index}" for index in range(100)]
    kept = capped(["apartamento", "apartamento", " ", *names])
    assert kept[:2] == ["apartamento", "Morador Número 0"]
    assert sum(len(hint) + 2 for hint in kept) <= MAX_HINT_CHARS < sum(len(hint) + 2 for hint in names)
