"""Which question the system asked, and reading its sentences back into prompts and values."""

from porteiro_common.prompts import load_prompts
from porteiro_sim.evaluation import phrasing as p
from porteiro_sim.evaluation.questions import PromptGuesser, SentenceReader, visitor_question

PROMPTS = load_prompts()


def test_each_visitor_question_has_its_answer_kind():
    cases = {
        ("greeting",): p.GREETING,
        ("ask_intent",): p.ASK_INTENT,
        ("not_understood", "ask_intent"): p.ASK_INTENT,  # the question after the apology wins
        ("ask_visitor_name",): p.ASK_NAME,
        ("ask_apartment",): p.ASK_APARTMENT,
        ("no_apartment",): p.ASK_APARTMENT,
        ("ask_resident",): p.ASK_RESIDENT,
        ("not_understood", "ask_resident_full_name"): p.ASK_FULL_NAME,
        ("no_resident_anywhere",): p.ASK_BOTH,
        ("ambiguous_resident",): p.WHICH_RESIDENT,
        ("not_found", "offer_keypad"): p.KEYPAD,
        ("not_understood",): p.REPEAT,
        ("not_understood", "confirm_intent_delivery"): p.IS_DELIVERY,
        ("confirm_intent_visit",): p.IS_VISIT,
    }
    for keys, kind in cases.items():
        assert visitor_question(list(keys), PROMPTS) == kind, keys


def test_statements_and_outcomes_are_only_listened_to():
    for keys in (["confirm_delivery"], ["resident_answered"], ["still_calling"], ["visitor_denied"], []):
        assert visitor_question(keys, PROMPTS) is None


def test_an_unknown_question_is_a_confirmation():
    """A newer concierge's prompt this evaluation does not know: a question is answered like a yes/no."""
    prompts = {
        **PROMPTS,
        "confirm_candidate": "{resident_name}, do {apartment}?",
        "newer_note": "Um momento.",
    }
    assert visitor_question(["confirm_candidate"], prompts) == p.CONFIRMATION
    assert visitor_question(["newer_note"], prompts) is None


def test_sentence_reader_gets_the_values_back():
    reader = SentenceReader(PROMPTS)
    text = PROMPTS["confirm_visit"].format(
        visitor_name="Aferou", resident_name="Rodrigo Lima", apartment="301"
    )
    assert reader.read(text) == (
        "confirm_visit",
        {"visitor_name": "Aferou", "resident_name": "Rodrigo Lima", "apartment": "301"},
    )
    assert reader.read(PROMPTS["ask_apartment"]) == ("ask_apartment", {})
    brief = PROMPTS["resident_brief_delivery"].format(
        condominium_name=PROMPTS["condominium_name"], visitor_name="Claudia", apartment="402"
    )
    assert reader.read(brief) == ("resident_brief_delivery", {"visitor_name": "Claudia", "apartment": "402"})
    assert reader.read("Nada disso.") == ("", {})


def test_prompt_guesser_reads_a_fair_transcript():
    guesser = PromptGuesser()
    assert guesser.keys_of(
        "Não encontrei Arreti entre os moradores. Qual é o apartamento e o nome do morador?"
    )[-1] in (
        "no_resident",
        "no_resident_anywhere",
    )
    assert guesser.keys_of("Desculpe, não entendi. É uma entrega ou uma visita?") == [
        "not_understood",
        "ask_intent",
    ]
    assert guesser.keys_of("Eu tive o limauro de forma sua indrata.") == []
