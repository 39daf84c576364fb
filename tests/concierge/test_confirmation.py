"""Confirm instead of guessing: weak readings and low directory scores are confirmed before a call.

Virtual time through the real engine and core (tests/concierge/core_harness.py); the closed sets
come from the harness's vocabulary (Renata Oliveira in 501, Lucas Martins in 302).
"""

from __future__ import annotations

import pytest

from porteiro.directory.v1 import directory_pb2
from porteiro_concierge.extraction.base import Extraction
from porteiro_concierge.session import RESIDENT, VISITOR, Asking, Outcome
from porteiro_concierge.understanding import ResidentChoice
from tests.concierge.core_harness import LUCAS, RENATA, TO_WHOM_QUESTION, CallHarness, reach_whom_question

SCRIPT = {
    **TO_WHOM_QUESTION,
    "Renata, do 501.": Extraction(apartment="501", resident_name="Renata"),
}
WEAK = "Rena Olive"  # a badly heard "Renata Oliveira": a weak reading


async def test_weak_reading_is_confirmed_and_a_yes_calls() -> None:
    harness = CallHarness(SCRIPT)
    await reach_whom_question(harness)
    await harness.say(VISITOR, WEAK)
    assert harness.last_said(VISITOR) == "Renata Oliveira, do 501?"
    assert harness.directory.asked == [] and harness.dialer.attempts == []
    session = await harness.session()
    assert session is not None and session.asking == Asking.CONFIRM
    await harness.say(VISITOR, "Sim.")
    assert harness.directory.asked == [("501", "Renata Oliveira")]
    assert harness.dialer.attempts == [(RENATA.destination, 1)]


async def test_a_no_goes_to_the_residents_name_without_that_candidate() -> None:
    # A wrong reading of "Para qual apartamento e qual o nome do morador?" is an answer that added
    # nothing: the next question is the short one, by the resident's name alone.
    harness = CallHarness(SCRIPT)
    await reach_whom_question(harness)
    await harness.say(VISITOR, WEAK)
    await harness.say(VISITOR, "Não.")
    assert harness.last_said(VISITOR) == "Qual é o nome do morador?"
    session = await harness.session()
    assert session is not None and session.validation.excluded == ["501/Renata Oliveira"]
    await harness.say(VISITOR, WEAK)  # the same weak words again: not offered again
    assert harness.count(VISITOR, "Renata Oliveira, do 501?") == 1
    assert harness.dialer.attempts == []


async def test_refused_guesses_lead_to_the_keypad_like_answers_not_understood() -> None:
    harness = CallHarness(SCRIPT)
    await reach_whom_question(harness)
    await harness.say(VISITOR, WEAK)
    await harness.say(VISITOR, "Não.")
    await harness.say(VISITOR, "Luk Matin")  # a weak Lucas Martins this time
    assert harness.last_said(VISITOR) == "Lucas Martins, do 302?"
    await harness.say(VISITOR, "Não.")
    assert harness.last_said(VISITOR) == "Qual é o nome completo do morador?"  # by the name alone, once
    await harness.say(VISITOR, "Hein? Como assim?")
    await harness.say(VISITOR, "Hein? Como assim?")
    assert "digite o número do apartamento" in harness.last_said(VISITOR)
    assert harness.dialer.attempts == []


async def test_confirmation_never_authorizes() -> None:
    harness = CallHarness(SCRIPT)
    await reach_whom_question(harness)
    await harness.say(VISITOR, WEAK)
    await harness.say(VISITOR, "Sim, pode subir, autorizado.")
    await harness.start_resident()
    session = await harness.session()
    assert session is not None and session.outcome is None  # only the resident decides
    await harness.say(RESIDENT, "Sim, pode subir.")
    session = await harness.session()
    assert session is not None and session.outcome == Outcome.AUTHORIZED


async def test_low_directory_score_is_confirmed_before_calling() -> None:
    harness = CallHarness(SCRIPT)
    weak_match = directory_pb2.Candidate()
    weak_match.CopyFrom(RENATA)
    weak_match.score = 78.0

    async def resolve(apartment: str, resident_name: str) -> directory_pb2.ResolveResponse:
        harness.directory.asked.append((apartment, resident_name))
        return directory_pb2.ResolveResponse(status=directory_pb2.RESOLVE_STATUS_MATCH, match=weak_match)

    harness.directory.resolve = resolve  # type: ignore[method-assign]
    await reach_whom_question(harness)
    await harness.say(VISITOR, "Renata Oliveira")
    assert harness.last_said(VISITOR) == "Renata Oliveira, do 501?"
    assert harness.dialer.attempts == []
    await harness.say(VISITOR, "Isso mesmo.")
    assert harness.dialer.attempts == [(RENATA.destination, 1)]


async def test_answer_to_confirmation_that_is_neither_is_read_as_an_answer() -> None:
    harness = CallHarness(SCRIPT, confirm_name_only=False)
    await reach_whom_question(harness)
    await harness.say(VISITOR, WEAK)
    await harness.say(VISITOR, "Lucas Martins")
    assert harness.directory.asked == [("", "Lucas Martins")]
    assert harness.dialer.attempts == [(LUCAS.destination, 1)]


async def test_name_only_match_is_called_at_once_when_not_confirmed() -> None:
    harness = CallHarness(SCRIPT, confirm_name_only=False)
    await reach_whom_question(harness)
    await harness.say(VISITOR, "Lucas Martins.")
    assert harness.dialer.attempts == [(LUCAS.destination, 1)]


async def test_name_only_match_is_confirmed_by_default() -> None:
    # make eval (seed 1, call 11): "A Marina Barros do quinhentos e dois." was recognised as another
    # resident's exact name, "Ana Beatriz Silva.": a match by the name alone, score 100.
    harness = CallHarness(SCRIPT)
    await reach_whom_question(harness)
    await harness.say(VISITOR, "Lucas Martins.")
    assert harness.last_said(VISITOR) == "Lucas Martins, do 302?"
    await harness.say(VISITOR, "Não.")
    assert harness.last_said(VISITOR) == "Qual é o nome do morador?"
    await harness.say(VISITOR, "Lucas Martins.")  # the same name again: excluded, never called
    assert harness.dialer.attempts == []
    await harness.say(VISITOR, "Renata, do 501.")  # name and apartment agree: called at once
    assert harness.dialer.attempts == [(RENATA.destination, 1)]


async def _resident_on_line(harness: CallHarness) -> None:
    await reach_whom_question(harness)
    await harness.say(VISITOR, "Renata Oliveira")
    await harness.say(VISITOR, "Sim.")  # "Renata Oliveira, do 501?": found by the name alone
    await harness.start_resident()


async def test_resident_answer_with_split_words_is_read_from_the_decisions() -> None:
    harness = CallHarness(SCRIPT)
    await _resident_on_line(harness)
    await harness.say(RESIDENT, "Autori zado.")  # "Autorizado." as a recogniser split it
    session = await harness.session()
    assert session is not None and session.outcome == Outcome.AUTHORIZED


@pytest.mark.parametrize(
    "answer", ["Não sei, quem é?", "Sim... não, espera.", "Simone?", "Deixa lá lá por dar uma..."]
)
async def test_unclear_resident_answers_stay_unclear(answer: str) -> None:
    harness = CallHarness(SCRIPT)
    await _resident_on_line(harness)
    await harness.say(RESIDENT, answer)
    session = await harness.session()
    assert session is not None and session.outcome is None
    assert "Desculpe, não entendi" in harness.last_said(RESIDENT)


async def test_confirmed_apartment_is_trusted_like_a_typed_one() -> None:
    script = {**SCRIPT, "Apartamento 909, Xavier.": Extraction(apartment="909", resident_name="Xavier")}
    harness = CallHarness(script)
    await harness.start_visitor()
    await harness.say(VISITOR, "Entrega.")
    await harness.say(VISITOR, "Meu nome é João.")
    await harness.say(VISITOR, "Apartamento 909, Xavier.")
    assert "Qual é o número do apartamento?" in harness.last_said(VISITOR)  # 909 does not exist
    await harness.say(VISITOR, "O Quinhento Minhoun.")  # heard for "É o quinhentos e um." (make eval)
    # 501 has one resident: confirmed by name, which says whom in the same turn.
    assert harness.last_said(VISITOR) == "Renata Oliveira, do 501?"
    await harness.say(VISITOR, "Isso.")
    # Nobody called Xavier lives in 501, but the visitor confirmed its resident: called.
    assert harness.dialer.attempts == [(RENATA.destination, 1)]


async def test_an_apartment_of_several_residents_is_confirmed_as_the_apartment() -> None:
    script = {**SCRIPT, "Apartamento 909, Xavier.": Extraction(apartment="909", resident_name="Xavier")}
    harness = CallHarness(script)
    harness.vocabulary.resident_choices = [
        ResidentChoice("Renata Oliveira", "501"),
        ResidentChoice("Carlos Oliveira", "501"),
        ResidentChoice("Lucas Martins", "302"),
    ]
    await harness.start_visitor()
    await harness.say(VISITOR, "Entrega.")
    await harness.say(VISITOR, "Meu nome é João.")
    await harness.say(VISITOR, "Apartamento 909, Xavier.")
    await harness.say(VISITOR, "O Quinhento Minhoun.")
    assert harness.last_said(VISITOR) == "Apartamento 501?"
