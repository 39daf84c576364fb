"""An intent the first answer did not make clear is guessed and asked with whom to call.

"É uma entrega para Renata Oliveira, do 501?" settles both with one yes; nobody is called on a
guess. Transcripts are what whisper base made of espeak-ng callers in make eval ("É uma mimita."
for "É uma visita.", "Minha menua. Minha." for "Vim fazer uma visita.").
"""

from __future__ import annotations

from porteiro.directory.v1 import directory_pb2
from porteiro_concierge.core.confirming import target_key
from porteiro_concierge.extraction.base import Extraction, Intent
from porteiro_concierge.session import VISITOR, Session
from tests.concierge.core_harness import LUCAS, RENATA, CallHarness
from tests.concierge.test_dialogue_turns import LUISA, WHICH_SCRIPT, resolve_mendes

GARBLED = "Minha menua. Minha."  # leans to no intent
NOT_BARE_NO = "Não, é uma mimita."  # a "não" with more in it, the intent not understood
LEANS_VISIT = "É uma mimita."  # a visit by its sound, too weak to take
SCRIPT = {
    "Meu nome é João.": Extraction(visitor_name="João"),
    "Renata, do 501.": Extraction(apartment="501", resident_name="Renata"),
    "Renata Oliveira, do 501.": Extraction(apartment="501", resident_name="Renata Oliveira"),
    "Não, é uma visita.": Extraction(intent=Intent.VISIT),
}


async def _guessed_then_whom(
    harness: CallHarness, greeting_answer: str = GARBLED, whom: str = "Renata, do 501."
) -> None:
    """Greeted, an answer without a clear intent, the visitor's name, then whom to call."""
    await harness.start_visitor()
    await harness.say(VISITOR, greeting_answer)
    assert harness.last_said(VISITOR) == "Qual é o seu nome, por favor?"  # on at once, no "não entendi"
    await harness.say(VISITOR, "Meu nome é João.")
    await harness.say(VISITOR, whom)


async def test_the_guess_is_asked_with_whom_and_a_yes_calls() -> None:
    harness = CallHarness(SCRIPT)
    await _guessed_then_whom(harness)
    assert harness.count(VISITOR, "não entendi") == 0 and harness.count(VISITOR, "entrega ou") == 0
    # Name and apartment agree (called at once with a known intent): the guess is asked first.
    assert harness.last_said(VISITOR) == "É uma entrega para Renata Oliveira, do 501?"
    assert harness.dialer.attempts == []
    await harness.say(VISITOR, "Sim.")
    assert harness.dialer.attempts == [(RENATA.destination, 1)]
    assert "entrega para Renata Oliveira" in harness.last_said(VISITOR)
    session = await harness.session()
    assert session is not None and session.slots.intent == Intent.DELIVERY
    assert not session.visitor.intent_unconfirmed


async def test_the_guess_is_the_way_the_answer_leaned() -> None:
    harness = CallHarness(SCRIPT)
    await _guessed_then_whom(harness, LEANS_VISIT)
    assert harness.last_said(VISITOR) == "É uma visita para Renata Oliveira, do 501?"


async def test_a_no_with_the_intent_keeps_the_resident_but_asks_about_them_alone() -> None:
    harness = CallHarness(SCRIPT)
    await _guessed_then_whom(harness)
    await harness.say(VISITOR, "Não, é uma visita.")
    # The intent was wrong; whom may have been too: asked alone before any call.
    assert harness.last_said(VISITOR) == "Renata Oliveira, do 501?"
    assert harness.dialer.attempts == []
    await harness.say(VISITOR, "Sim.")
    assert harness.dialer.attempts == [(RENATA.destination, 1)]
    assert "visita para Renata Oliveira" in harness.last_said(VISITOR)


async def resolve_unsure(apartment: str, resident_name: str) -> directory_pb2.ResolveResponse:
    """The directory's match of a name not heard clearly (scored below `confirm_below_score`)."""
    match = RENATA if resident_name.startswith("Renata") else LUCAS
    unsure = directory_pb2.Candidate()
    unsure.CopyFrom(match)
    unsure.score = 80.0
    return directory_pb2.ResolveResponse(status=directory_pb2.RESOLVE_STATUS_MATCH, match=unsure)


async def test_a_first_bare_no_is_about_whom_and_the_guess_is_asked_again() -> None:
    """A resident matched only loosely: the bare "não" is likelier about whom."""
    harness = CallHarness({**SCRIPT, "Lucas Martins.": Extraction(resident_name="Lucas Martins")})
    harness.directory.resolve = resolve_unsure  # type: ignore[method-assign]
    await _guessed_then_whom(harness)
    await harness.say(VISITOR, "Não é esse, não.")
    session = await harness.session()
    assert session is not None and session.validation.excluded == ["501/Renata Oliveira"]
    assert session.visitor.intent_unconfirmed and harness.count(VISITOR, "É uma entrega?") == 0
    assert harness.last_said(VISITOR) == "Qual é o nome do morador?"
    await harness.say(VISITOR, "Lucas Martins.")
    assert harness.last_said(VISITOR) == "É uma entrega para Lucas Martins, do 302?"
    await harness.say(VISITOR, "Não.")  # a second bare "não": now the intent is asked alone
    assert harness.last_said(VISITOR) == "É uma entrega?"


async def test_a_no_with_more_in_it_asks_the_intent_alone_and_a_wrong_guess_spares_the_resident() -> None:
    harness = CallHarness(SCRIPT)
    await _guessed_then_whom(harness)
    await harness.say(VISITOR, NOT_BARE_NO)
    assert harness.last_said(VISITOR) == "É uma entrega?"
    await harness.say(VISITOR, "Não.")  # a visit: the resident is asked about alone
    assert harness.last_said(VISITOR) == "Renata Oliveira, do 501?"
    await harness.say(VISITOR, "Sim.")
    assert harness.dialer.attempts == [(RENATA.destination, 1)]
    session = await harness.session()
    assert session is not None and session.slots.intent == Intent.VISIT


async def test_the_intent_asked_alone_and_a_right_guess_excludes_the_resident() -> None:
    harness = CallHarness(SCRIPT)
    await _guessed_then_whom(harness)
    await harness.say(VISITOR, NOT_BARE_NO)
    await harness.say(VISITOR, "Sim.")  # "É uma entrega?": it was the resident that was wrong
    session = await harness.session()
    assert session is not None and session.validation.excluded == ["501/Renata Oliveira"]
    assert session.slots.resident_name is None and session.slots.intent == Intent.DELIVERY
    assert "nome do morador" in harness.last_said(VISITOR)  # whom, asked again
    await harness.say(VISITOR, "Renata, do 501.")  # the refused one again: never called
    assert harness.dialer.attempts == []


async def test_a_no_that_says_the_same_intent_excludes_the_resident() -> None:
    harness = CallHarness({**SCRIPT, "Não, é uma entrega.": Extraction(intent=Intent.DELIVERY)})
    await _guessed_then_whom(harness)
    await harness.say(VISITOR, "Não, é uma entrega.")
    session = await harness.session()
    assert session is not None and session.validation.excluded == ["501/Renata Oliveira"]
    assert not session.visitor.intent_unconfirmed and harness.count(VISITOR, "É uma entrega?") == 0


async def test_a_typed_apartment_is_not_called_on_a_guessed_intent() -> None:
    harness = CallHarness(SCRIPT)
    await harness.start_visitor()
    await harness.say(VISITOR, GARBLED)
    await harness.say(VISITOR, "Meu nome é João.")
    await harness.press(VISITOR, "302#")  # trusted: called at once when the intent is known
    assert harness.last_said(VISITOR) == "É uma entrega para Lucas Martins, do 302?"
    assert harness.dialer.attempts == []
    await harness.say(VISITOR, "Isso.")
    assert harness.dialer.attempts == [(LUCAS.destination, 1)]


async def test_an_intent_said_later_replaces_the_guess_but_is_still_asked() -> None:
    harness = CallHarness(
        {**SCRIPT, "Vim visitar, meu nome é João.": Extraction(intent=Intent.VISIT, visitor_name="João")}
    )
    await harness.start_visitor()
    await harness.say(VISITOR, GARBLED)
    await harness.say(VISITOR, "Vim visitar, meu nome é João.")
    await harness.say(VISITOR, "Renata, do 501.")
    assert harness.last_said(VISITOR) == "É uma visita para Renata Oliveira, do 501?"


async def test_the_guess_and_the_doubt_survive_the_session_store() -> None:
    harness = CallHarness(SCRIPT)
    await _guessed_then_whom(harness)
    session = await harness.session()
    assert session is not None
    assert Session.from_json(session.to_json()).visitor.intent_unconfirmed
    await harness.say(VISITOR, NOT_BARE_NO)
    session = await harness.session()
    assert session is not None
    doubted = Session.from_json(session.to_json()).validation.doubted
    assert doubted is not None and target_key(doubted) == "501/Renata Oliveira"


async def _guessed_then_mendes() -> CallHarness:
    """A guessed intent, then "Mendes.": Luiza Mendes (201) and Luísa Mendes (202) found alike."""
    harness = CallHarness({**SCRIPT, **WHICH_SCRIPT})
    harness.directory.resolve = resolve_mendes  # type: ignore[method-assign]
    await harness.start_visitor()
    await harness.say(VISITOR, GARBLED)
    await harness.say(VISITOR, "Meu nome é João.")
    await harness.say(VISITOR, "Mendes.")
    return harness


async def test_a_refused_guess_for_one_of_two_alike_goes_on_to_the_other() -> None:
    """A "não" to one of two residents found alike goes on to the other, the intent still asked
    with it; the intent asked alone (after a "não" with more in it) does not lose the other either."""
    harness = await _guessed_then_mendes()
    assert harness.last_said(VISITOR) == "É uma entrega para Luiza Mendes, do 201?"
    await harness.say(VISITOR, NOT_BARE_NO)
    assert harness.last_said(VISITOR) == "É uma entrega?"
    await harness.say(VISITOR, "Sim.")  # the intent was right: Luiza Mendes was not
    assert harness.last_said(VISITOR) == "Luísa Mendes, do 202?"
    await harness.say(VISITOR, "Sim.")
    assert harness.dialer.attempts == [(LUISA.destination, 1)]


async def test_a_bare_no_to_one_of_two_alike_asks_the_other_with_the_guess() -> None:
    harness = await _guessed_then_mendes()
    await harness.say(VISITOR, "Não.")
    assert harness.last_said(VISITOR) == "É uma entrega para Luísa Mendes, do 202?"
    await harness.say(VISITOR, "Sim.")
    assert harness.dialer.attempts == [(LUISA.destination, 1)]


async def test_a_bare_no_after_a_typed_apartment_asks_the_intent_alone() -> None:
    # make eval (seed 31): "Não, é visita." heard as "Não é." after "#502#"; taken as about whom,
    # it refused the resident the visitor had typed.
    harness = CallHarness(SCRIPT)
    await harness.start_visitor()
    await harness.say(VISITOR, GARBLED)
    await harness.say(VISITOR, "Meu nome é João.")
    await harness.press(VISITOR, "302#")
    await harness.say(VISITOR, "Não é.")
    assert harness.last_said(VISITOR) == "É uma entrega?"
    await harness.say(VISITOR, "Não.")  # a visit
    assert harness.last_said(VISITOR) == "Lucas Martins, do 302?"
    await harness.say(VISITOR, "Sim.")
    assert harness.dialer.attempts == [(LUCAS.destination, 1)]


async def test_a_second_bare_no_to_one_of_two_alike_asks_the_other() -> None:
    """make eval (blocks, seed 61): a first "não" refused Lúcia Santos, the second Luísa Mendes of
    202; "É uma entrega?" was asked alone before Luiza Mendes of 201, a turn lost. The intent is
    asked alone only when nobody alike is left."""
    harness = CallHarness({**SCRIPT, "Lucas Martins.": Extraction(resident_name="Lucas Martins")})
    harness.directory.resolve = resolve_mendes  # type: ignore[method-assign]
    await harness.start_visitor()
    await harness.say(VISITOR, GARBLED)
    await harness.say(VISITOR, "Meu nome é João.")
    await harness.say(VISITOR, "Mendes.")
    await harness.say(VISITOR, "Não.")  # the first bare "não": Luiza Mendes of 201 refused
    assert harness.last_said(VISITOR) == "É uma entrega para Luísa Mendes, do 202?"
    await harness.say(VISITOR, "Não.")  # the second: nobody alike is left, the intent asked alone
    assert harness.last_said(VISITOR) == "É uma entrega?"


async def test_a_second_bare_no_with_one_alike_left_is_about_whom() -> None:
    """The same call as make eval's: one resident refused by a bare "não", then one of two alike."""

    async def resolve(apartment: str, resident_name: str) -> directory_pb2.ResolveResponse:
        if resident_name.startswith("Renata"):
            return await resolve_unsure(apartment, resident_name)
        return await resolve_mendes(apartment, resident_name)

    harness = CallHarness({**SCRIPT, **WHICH_SCRIPT})
    harness.directory.resolve = resolve  # type: ignore[method-assign]
    await _guessed_then_whom(harness)
    assert harness.last_said(VISITOR) == "É uma entrega para Renata Oliveira, do 501?"
    await harness.say(VISITOR, "Não.")  # the first bare "não"
    await harness.say(VISITOR, "Mendes.")
    assert harness.last_said(VISITOR) == "É uma entrega para Luiza Mendes, do 201?"
    await harness.say(VISITOR, "Não.")  # the second: Luísa Mendes is left, so it is about whom
    assert harness.last_said(VISITOR) == "É uma entrega para Luísa Mendes, do 202?"
    await harness.say(VISITOR, "Sim.")
    assert harness.dialer.attempts == [(LUISA.destination, 1)]


async def test_a_bare_no_to_a_name_heard_clearly_is_about_the_guess() -> None:
    """make eval (sample, seed 61): "Rodrigo Lima." heard right, the delivery guessed a visit, and
    "Não, é entrega." heard "Não é essa.": the right resident was excluded before."""
    harness = CallHarness(SCRIPT)
    await _guessed_then_whom(harness, whom="Renata Oliveira, do 501.")
    assert harness.last_said(VISITOR) == "É uma entrega para Renata Oliveira, do 501?"
    session = await harness.session()
    assert session is not None and Session.from_json(session.to_json()).validation.named_clearly
    await harness.say(VISITOR, "Não é essa.")
    assert harness.last_said(VISITOR) == "É uma visita para Renata Oliveira, do 501?"
    session = await harness.session()
    assert session is not None and session.validation.excluded == []
    await harness.say(VISITOR, "Sim.")
    assert harness.dialer.attempts == [(RENATA.destination, 1)]
    assert "visita para Renata Oliveira" in harness.last_said(VISITOR)


async def test_a_no_with_words_not_understood_to_a_name_heard_clearly_is_about_the_guess() -> None:
    """make eval (seed 81, both condominiums, five calls): "Eduardo Almeida." and "Vinícius Barros."
    heard right, the visit guessed a delivery, "Não, é visita." heard "Não é. Não é a minha.": the
    intent was asked alone ("É uma entrega?"), then the resident again, two turns more than needed."""
    harness = CallHarness(SCRIPT)
    await _guessed_then_whom(harness, whom="Renata Oliveira, do 501.")
    await harness.say(VISITOR, "Não é. Não é a minha.")
    assert harness.last_said(VISITOR) == "É uma visita para Renata Oliveira, do 501?"
    await harness.say(VISITOR, "Sim.")
    assert harness.dialer.attempts == [(RENATA.destination, 1)]


async def test_a_no_that_names_someone_else_is_about_whom_even_after_a_clear_name() -> None:
    script = {**SCRIPT, "Não, é a Lucas do 302.": Extraction(apartment="302", resident_name="Lucas")}
    harness = CallHarness(script)
    await _guessed_then_whom(harness, whom="Renata Oliveira, do 501.")
    await harness.say(VISITOR, "Não, é a Lucas do 302.")
    assert harness.last_said(VISITOR) == "É uma entrega?"  # neither said clearly: the intent alone first
    assert harness.dialer.attempts == []


async def test_a_second_bare_no_after_the_other_intent_asks_the_intent_alone() -> None:
    harness = CallHarness(SCRIPT)
    await _guessed_then_whom(harness, whom="Renata Oliveira, do 501.")
    await harness.say(VISITOR, "Não.")
    await harness.say(VISITOR, "Não.")  # neither intent with Renata: whom or the intent was wrong
    assert harness.last_said(VISITOR) in ("É uma visita?", "É uma entrega?")
    assert harness.dialer.attempts == []


async def test_a_bare_no_to_a_first_name_alone_is_about_whom() -> None:
    """A first name alone is not heard clearly (make eval: "Eduardo." written for "João.")."""
    harness = CallHarness(SCRIPT)
    await _guessed_then_whom(harness)  # "Renata, do 501.": matched at 100, one word
    await harness.say(VISITOR, "Não.")
    session = await harness.session()
    assert session is not None and session.validation.excluded == ["501/Renata Oliveira"]


async def test_a_resident_named_again_after_a_bare_no_is_asked_with_the_other_intent() -> None:
    """make eval (blocks, seed 61): a delivery guessed a visit, "Não, é entrega." heard "Não é
    essa.": the resident was excluded, and named again got "Não encontrei … entre os moradores"."""
    harness = CallHarness({**SCRIPT, "Renata.": Extraction(resident_name="Renata")}, whom_question="resident")
    await harness.start_visitor()
    await harness.say(VISITOR, LEANS_VISIT)
    await harness.say(VISITOR, "Meu nome é João.")
    await harness.say(VISITOR, "Renata.")
    assert harness.last_said(VISITOR) == "É uma visita para Renata Oliveira, do 501?"
    await harness.say(VISITOR, "Não é essa.")  # a first bare "não", a first name: about whom
    assert harness.last_said(VISITOR) == "Qual é o nome completo do morador?"
    await harness.say(VISITOR, "Renata.")  # the same again: the "não" was about the intent
    assert harness.last_said(VISITOR) == "É uma entrega para Renata Oliveira, do 501?"
    await harness.say(VISITOR, "Sim.")
    assert harness.dialer.attempts == [(RENATA.destination, 1)]
    assert "entrega para Renata Oliveira" in harness.last_said(VISITOR)
