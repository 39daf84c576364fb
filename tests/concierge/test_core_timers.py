"""Every timeout of a call, in virtual time: the engine and the core with a fake clock (milliseconds).

The settings are the shipped defaults (visitor 15 s, resident connect 10 s, resident reply 8 s,
playback allowance 20 s): the clock is moved, nothing sleeps.
"""

from __future__ import annotations

from prometheus_client import REGISTRY

from porteiro_concierge.extraction.base import Extraction, Intent
from porteiro_concierge.session import RESIDENT, VISITOR, DeadlineKind, Outcome
from tests.concierge.core_harness import CallHarness

WHOLE_REQUEST = "Aqui é o João, entrega para a Renata do 501"
INTENT_AND_NAME = "Boa tarde, é uma entrega, meu nome é João"
SCRIPT = {
    WHOLE_REQUEST: Extraction(
        intent=Intent.DELIVERY, visitor_name="João", apartment="501", resident_name="Renata"
    ),
    INTENT_AND_NAME: Extraction(intent=Intent.DELIVERY, visitor_name="João"),
}
MISHEARD = "Hein? Como assim?"


def outcomes(outcome: str) -> float:
    return REGISTRY.get_sample_value("porteiro_concierge_call_outcomes_total", {"outcome": outcome}) or 0.0


async def calling_the_resident(**settings: object) -> CallHarness:
    call = CallHarness(SCRIPT, **settings)
    await call.start_visitor()
    await call.say(VISITOR, WHOLE_REQUEST)
    assert call.dialer.attempts == [("sip:501@condominio.local", 1)]
    return call


async def resident_asked(**settings: object) -> CallHarness:
    call = await calling_the_resident(**settings)
    await call.start_resident()
    assert call.count(RESIDENT, "Pode liberar") == 1
    return call


async def test_silent_visitor_is_asked_again_once_then_the_call_ends():
    before = outcomes("failed")
    call = CallHarness(SCRIPT)
    await call.start_visitor()
    await call.played(VISITOR)  # the greeting finished: 15 s of silence allowed from now
    await call.advance(14.9)
    assert call.said(VISITOR) == ["Condomínio Apoena, em que posso ajudar?"]
    await call.advance(0.2)
    assert call.last_said(VISITOR) == "É uma entrega ou uma visita?"
    await call.played(VISITOR)
    await call.advance(15.1)
    assert call.last_said(VISITOR).startswith("Não ouvi a sua resposta")
    assert call.hung_up(VISITOR)
    assert (await call.session()).outcome == Outcome.FAILED
    assert outcomes("failed") == before + 1


async def test_an_answer_resets_the_silence_reprompt():
    call = CallHarness(SCRIPT)
    await call.start_visitor()
    await call.played(VISITOR)
    await call.advance(15.1)  # asked again once
    await call.say(VISITOR, INTENT_AND_NAME)  # an answer: a later silence is asked again, not the end
    await call.played(VISITOR)
    await call.advance(15.1)
    assert call.count(VISITOR, "apartamento e qual o nome do morador") == 2
    assert not call.hung_up(VISITOR)


async def test_greeting_never_acknowledged_still_starts_the_silence_timer():
    call = CallHarness(SCRIPT)
    await call.start_visitor()  # no PlaybackFinished ever comes: the playback allowance (20 s) bounds it
    await call.advance(19.9)
    assert call.count(VISITOR, "entrega ou uma visita") == 0
    await call.advance(0.2)
    assert call.count(VISITOR, "entrega ou uma visita") == 1


async def test_resident_not_connecting_is_called_again_then_no_answer():
    before = outcomes("no_answer")
    call = await calling_the_resident(resident_connect_timeout_seconds=10.0)
    assert (await call.session()).deadline.kind == DeadlineKind.RESIDENT_CONNECT
    await call.advance(9.9)
    assert len(call.dialer.attempts) == 1
    await call.advance(0.2)
    assert call.last_said(VISITOR) == "O morador ainda não atendeu. Vou tentar mais uma vez, aguarde."
    assert call.dialer.attempts == [("sip:501@condominio.local", 1), ("sip:501@condominio.local", 2)]
    await call.advance(10.1)
    assert call.last_said(VISITOR).startswith("Não consegui falar com o morador")
    assert call.hung_up(VISITOR)
    assert len(call.dialer.attempts) == 2  # max_call_attempts
    assert outcomes("no_answer") == before + 1


async def test_resident_connecting_before_the_timeout_stops_the_retry():
    call = await calling_the_resident()
    await call.advance(5)
    await call.start_resident()
    await call.advance(30)  # the connect deadline was replaced by the resident's reply deadline
    assert len(call.dialer.attempts) == 1


async def test_silent_resident_is_reprompted_once_then_no_answer():
    before = outcomes("no_answer")
    call = await resident_asked()
    await call.played(RESIDENT)  # the brief finished: 8 s of silence allowed
    await call.advance(7.9)
    assert call.count(RESIDENT, "Está me ouvindo") == 0
    await call.advance(0.2)
    assert call.count(RESIDENT, "Está me ouvindo") == 1
    await call.played(RESIDENT)
    await call.advance(8.1)
    assert call.last_said(RESIDENT).startswith("Não consegui entender a resposta. Vou encerrar")
    assert call.last_said(VISITOR).startswith("Não consegui falar com o morador")
    assert call.hung_up(VISITOR) and call.hung_up(RESIDENT)
    assert outcomes("no_answer") == before + 1


async def test_unclear_resident_is_asked_again_and_the_silence_timer_restarts():
    call = await resident_asked()
    await call.played(RESIDENT)
    await call.advance(5)
    await call.say(RESIDENT, "Assim, hmm, quem é mesmo?")
    assert call.count(RESIDENT, "não entendi") == 1
    await call.played(RESIDENT)
    await call.advance(7.9)
    assert call.count(RESIDENT, "Está me ouvindo") == 0  # a fresh 8 s from the end of the question
    await call.advance(0.2)
    assert call.count(RESIDENT, "Está me ouvindo") == 1


async def test_digits_typed_without_hash_are_taken_after_the_silence():
    call = CallHarness(SCRIPT, not_understood_before_fallback=2)
    await call.start_visitor()
    await call.say(VISITOR, INTENT_AND_NAME)
    for _ in range(4):  # two to the apartment-and-resident question, two to the resident's name
        await call.say(VISITOR, MISHEARD)
    assert call.last_said(VISITOR).startswith("Por favor, digite o número do apartamento")
    await call.played(VISITOR)
    await call.press(VISITOR, "50")
    await call.advance(10)  # each key restarts the 15 s
    await call.press(VISITOR, "1")
    await call.played(VISITOR)  # playback ending while typing does not restart the timer
    await call.advance(14.9)
    assert call.directory.asked == []
    await call.advance(0.2)
    assert call.directory.asked == [("501", "")]
    assert call.dialer.attempts == [("sip:501@condominio.local", 1)]  # the typed apartment is trusted
    assert "apartamento 501" in call.last_said(VISITOR)


async def test_speech_onset_extends_the_silence_timer_once():
    call = CallHarness(SCRIPT)
    await call.start_visitor()
    await call.played(VISITOR)
    first = call.next_deadline
    await call.advance(10)
    await call.speech(VISITOR)  # the visitor starts speaking: 20 s to finish and be recognised
    extended = call.next_deadline
    assert extended == call.clock.now + 20 and extended > first
    await call.advance(10)
    await call.speech(VISITOR)  # noise again: no second extension
    assert call.next_deadline == extended
    await call.advance(10.1)
    assert call.count(VISITOR, "entrega ou uma visita") == 1


async def test_speech_onset_extends_the_resident_timer_once():
    call = await resident_asked()
    await call.played(RESIDENT)
    await call.advance(7)
    await call.speech(RESIDENT)
    await call.speech(RESIDENT)
    assert call.next_deadline == call.clock.now + 20
    await call.advance(19.9)
    assert call.count(RESIDENT, "Está me ouvindo") == 0
    await call.advance(0.2)
    assert call.count(RESIDENT, "Está me ouvindo") == 1


async def test_a_timer_firing_early_or_twice_changes_nothing():
    call = await calling_the_resident(resident_connect_timeout_seconds=10.0)
    saved = (await call.session()).to_json()
    await call.advance(3)
    await call.fire_timer()
    assert (await call.session()).to_json() == saved  # not due yet: nothing happened
    await call.advance(7.1)
    await call.fire_timer()  # a second timer (the other leg's) for the same deadline
    assert call.dialer.attempts == [("sip:501@condominio.local", 1), ("sip:501@condominio.local", 2)]


async def test_visitor_hanging_up_clears_the_deadline():
    call = await calling_the_resident()
    await call.hang_up(VISITOR)
    assert call.next_deadline is None
    assert await call.session() is None  # no leg left: the session is gone
    await call.advance(60)
    assert len(call.dialer.attempts) == 1


async def test_noise_cannot_hold_off_the_visitor_silence_timer():
    call = CallHarness(SCRIPT)
    await call.start_visitor()
    await call.played(VISITOR)
    for _ in range(120):  # a minute of noise: voice onsets that never become a sentence
        await call.speech(VISITOR)
        await call.advance(0.5)
        if call.hung_up(VISITOR):
            break
        if call.count(VISITOR, "entrega ou uma visita") and call.next_deadline is None:
            await call.played(VISITOR)
    assert call.count(VISITOR, "entrega ou uma visita") == 1
    assert call.last_said(VISITOR).startswith("Não ouvi a sua resposta") and call.hung_up(VISITOR)
    assert call.clock.now - 1_000_000.0 <= 2 * (15 + 20)  # each question extended once at most


async def test_noise_cannot_hold_off_the_resident_silence_timer():
    call = await resident_asked()
    began = call.clock.now
    await call.played(RESIDENT)
    while not call.hung_up(RESIDENT) and call.clock.now - began < 120:
        await call.speech(RESIDENT)
        await call.advance(0.5)
    assert call.count(RESIDENT, "Está me ouvindo") == 1
    assert call.last_said(VISITOR).startswith("Não consegui falar com o morador")
    assert call.clock.now - began <= 8 + 20 + 20  # reply, extended once; the re-prompt's allowance
