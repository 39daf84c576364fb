"""The conversation core alone: `handle(session, event, now)` returns effects and requests, performs nothing."""

from __future__ import annotations

import json

import pytest

from porteiro.concierge.v1 import concierge_pb2
from porteiro.directory.v1 import directory_pb2
from porteiro_concierge.core import Conversation, PlaceCallRequest, ResolveRequest, Rules, TurnOutcome
from porteiro_concierge.core.events import (
    CallFailed,
    CallPlaced,
    DirectoryAnswered,
    DirectoryFailed,
    Key,
    ResidentStarted,
    Utterance,
    VisitorStarted,
)
from porteiro_concierge.extraction.base import Extraction, Intent
from porteiro_concierge.prompts import Prompts
from porteiro_concierge.session import (
    RESIDENT,
    VISITOR,
    Asking,
    DeadlineKind,
    FlowState,
    Outcome,
    Session,
    Target,
)
from porteiro_concierge.settings import ConciergeSettings
from porteiro_concierge.store import decode_actions, encode_actions
from tests.concierge.core_harness import LUCAS, RENATA, SESSION_ID, StaticVocabulary

NOW = 1_000_000.0
WHOLE_REQUEST = Extraction(
    intent=Intent.DELIVERY, visitor_name="João", apartment="501", resident_name="Renata"
)


@pytest.fixture
def core() -> Conversation:
    settings = ConciergeSettings(redis_url=None, llm_model=None)
    return Conversation(Rules(settings, Prompts(), StaticVocabulary()))


def kinds(actions: list[concierge_pb2.LegAction]) -> list[str]:
    return [action.WhichOneof("action") or "" for action in actions]


def started(core: Conversation) -> Session:
    handled = core.handle(None, VisitorStarted(SESSION_ID, "00-trace-span-01"), NOW)
    assert handled.session is not None
    return handled.session


def validated(core: Conversation) -> Session:
    session = started(core)
    handled = core.handle(session, Utterance(VISITOR, "…", WHOLE_REQUEST), NOW)
    handled = core.handle(
        session,
        DirectoryAnswered(
            directory_pb2.ResolveResponse(status=directory_pb2.RESOLVE_STATUS_MATCH, match=RENATA)
        ),
        NOW,
    )
    assert isinstance(handled.effects.request, PlaceCallRequest)
    return session


def test_a_new_visitor_gets_hints_then_the_greeting_and_a_deadline(core):
    handled = core.handle(None, VisitorStarted(SESSION_ID, "00-trace-span-01"), NOW)
    visitor = handled.effects.actions[VISITOR]
    assert kinds(visitor) == ["recognition", "say"]
    assert visitor[0].recognition.language == "pt-BR" and "entrega" in visitor[0].recognition.hints
    assert visitor[1].say.text == "Condomínio Apoena, em que posso ajudar?" and visitor[1].say.allow_barge_in
    assert handled.session.asking == Asking.INTENT
    assert handled.next_deadline.kind == DeadlineKind.VISITOR_REPLY
    assert handled.next_deadline.at == NOW + 20  # the playback allowance until the greeting is played


def test_a_complete_request_asks_the_shell_for_the_directory(core):
    session = started(core)
    handled = core.handle(session, Utterance(VISITOR, "Aqui é o João…", WHOLE_REQUEST), NOW)
    assert handled.effects.request == ResolveRequest(apartment="501", resident_name="Renata")
    assert handled.effects.actions[VISITOR] == []  # nothing said until the directory answers
    assert handled.effects.turn_outcome == TurnOutcome.PROGRESS


def test_a_match_is_confirmed_and_called_then_the_connect_deadline_is_armed(core):
    session = started(core)
    core.handle(session, Utterance(VISITOR, "…", WHOLE_REQUEST), NOW)
    handled = core.handle(
        session,
        DirectoryAnswered(
            directory_pb2.ResolveResponse(status=directory_pb2.RESOLVE_STATUS_MATCH, match=RENATA)
        ),
        NOW,
    )
    assert handled.effects.actions[VISITOR][0].say.text.startswith(
        "Certo, João, entrega para Renata Oliveira"
    )
    assert handled.effects.request == PlaceCallRequest(SESSION_ID, RENATA.destination, 1, "delivery", "501")
    assert session.state == FlowState.VALIDATED
    handled = core.handle(session, CallPlaced(), NOW + 1)
    assert session.state == FlowState.CALLING_RESIDENT
    connect = (DeadlineKind.RESIDENT_CONNECT, NOW + 31)  # the 30 s default
    assert (handled.next_deadline.kind, handled.next_deadline.at) == connect
    assert [event.name for event in handled.effects.span_events] == ["STATE_CHANGE"]


def test_directory_down_apologizes_then_ends_the_call(core):
    session = started(core)
    core.handle(session, Utterance(VISITOR, "…", WHOLE_REQUEST), NOW)
    handled = core.handle(session, DirectoryFailed("UNAVAILABLE"), NOW)
    assert "não consegui consultar" in handled.effects.actions[VISITOR][0].say.text
    assert session.asking == Asking.REPEAT and handled.effects.turn_outcome == TurnOutcome.ERROR
    handled = core.handle(session, Utterance(VISITOR, "…", WHOLE_REQUEST), NOW)  # the same again: a retry
    assert isinstance(handled.effects.request, ResolveRequest)
    handled = core.handle(session, DirectoryFailed("UNAVAILABLE"), NOW)
    assert kinds(handled.effects.actions[VISITOR]) == ["say", "hang_up"]
    assert handled.effects.finished == Outcome.FAILED and handled.next_deadline is None


def test_dialer_down_tells_the_visitor(core):
    session = validated(core)
    handled = core.handle(session, CallFailed("UNAVAILABLE"), NOW)
    assert handled.effects.actions[VISITOR][0].say.text.startswith("Não consegui chamar o morador")
    assert handled.effects.finished == Outcome.FAILED


def test_a_typed_apartment_calls_only_a_resident_of_that_apartment(core):
    session = started(core)
    core.handle(session, Utterance(VISITOR, "…", Extraction(intent=Intent.DELIVERY, visitor_name="Ana")), NOW)
    session.keypad.offered = True
    session.slots.resident_name = "Renata"  # misheard: she lives in 501, not in the apartment typed
    for key in "302#":
        handled = core.handle(session, Key(VISITOR, key), NOW)
    assert handled.effects.request == ResolveRequest(apartment="302", resident_name="Renata")
    # The directory offers Renata (501) by name first, then the resident of 302.
    answer = directory_pb2.ResolveResponse(
        status=directory_pb2.RESOLVE_STATUS_NO_RESIDENT,
        normalized_apartment="302",
        candidates=[RENATA, LUCAS],
    )
    handled = core.handle(session, DirectoryAnswered(answer), NOW)
    assert session.call.target.apartment == "302"
    assert handled.effects.request.destination == LUCAS.destination


def test_only_the_resident_leg_authorizes(core):
    session = validated(core)
    core.handle(session, CallPlaced(), NOW)
    for text in ("Sim, pode subir, autorizo", "1"):
        handled = core.handle(session, Utterance(VISITOR, text, WHOLE_REQUEST), NOW)
        assert handled.effects.finished is None
    assert core.handle(session, Key(VISITOR, "1"), NOW).effects.finished is None
    core.handle(session, ResidentStarted(), NOW)
    handled = core.handle(session, Key(RESIDENT, "1"), NOW)
    assert handled.effects.finished == Outcome.AUTHORIZED == session.outcome
    assert kinds(handled.effects.actions[VISITOR]) == ["stop_playback", "say", "hang_up"]  # no more "aguarde"
    assert kinds(handled.effects.actions[RESIDENT]) == ["stop_playback", "say", "hang_up"]  # cuts the brief
    assert not handled.effects.actions[VISITOR][1].say.allow_barge_in


def test_a_resident_without_a_call_is_told_it_is_over(core):
    handled = core.handle(None, ResidentStarted(), NOW)
    assert handled.session is None
    assert handled.effects.actions[RESIDENT][0].say.text.startswith("Desculpe, esta chamada já foi encerrada")
    assert kinds(handled.effects.actions[RESIDENT]) == ["say", "hang_up"]


def test_results_that_come_in_the_wrong_state_are_ignored(core):
    collecting = started(core)
    for event in (CallPlaced(), CallFailed("x")):  # no call was being placed
        handled = core.handle(collecting, event, NOW)
        assert handled.effects.actions == {VISITOR: [], RESIDENT: []}
    assert collecting.state == FlowState.COLLECTING
    calling = validated(core)
    core.handle(calling, CallPlaced(), NOW)
    answer = directory_pb2.ResolveResponse(status=directory_pb2.RESOLVE_STATUS_MATCH, match=LUCAS)
    for event in (DirectoryAnswered(answer), DirectoryFailed("x")):  # nothing was being validated
        handled = core.handle(calling, event, NOW)
        assert handled.effects.actions == {VISITOR: [], RESIDENT: []} and handled.effects.request is None
    assert calling.state == FlowState.CALLING_RESIDENT and calling.call.target.apartment == "501"


def test_an_unknown_event_is_an_error_not_a_silent_default(core):
    with pytest.raises(TypeError, match="not a conversation event"):
        core.handle(started(core), object(), NOW)  # type: ignore[arg-type]


def test_session_round_trips_through_json(core):
    session = validated(core)
    session.validation.ambiguous = [Target("102", "Carlos Oliveira", "sip:102")]
    session.keypad.digits = "50"
    assert Session.from_json(session.to_json()) == session


def test_a_session_saved_by_the_previous_version_still_loads():
    flat = {
        "session_id": SESSION_ID,
        "state": "calling_resident",
        "slots": {
            "intent": "delivery",
            "visitor_name": "João",
            "apartment": "501",
            "resident_name": "Renata",
        },
        "history": [{"speaker": "visitor", "text": "oi"}],
        "asking": "apartment",
        "validation_failures": 1,
        "unproductive_turns": 2,
        "visitor_turns": 3,
        "visitor_name_skipped": True,
        "directory_errors": 1,
        "keypad_offered": True,
        "keypad_digits": "5",
        "apartment_typed": True,
        "ambiguous": [],
        "target": {
            "apartment": "501",
            "resident_name": "Renata Oliveira",
            "destination": "sip:501",
            "block": "",
        },
        "attempt": 2,
        "deadline": {"kind": "resident_connect", "at": 12.5, "extended": False},
        "visitor_reprompted": True,
        "resident_unclear": 1,
        "resident_reprompted": True,
        "legs": {"visitor": True},
        "hints": {"visitor": ["apartamento"]},
        "outcome": None,
        "traceparent": "00-trace",
        "created_at": 1.0,
        "a_field_from_the_future": 1,
    }
    session = Session.from_json(json.dumps(flat))
    assert session.state == FlowState.CALLING_RESIDENT and session.slots.intent == Intent.DELIVERY
    assert (session.visitor.turns, session.visitor.not_understood, session.visitor.name_skipped) == (
        3,
        2,
        True,
    )
    assert (session.keypad.offered, session.keypad.digits, session.keypad.apartment_typed) == (
        True,
        "5",
        True,
    )
    assert (session.validation.misses, session.validation.directory_errors) == (1, 1)
    assert (session.call.attempt, session.call.unclear_answers, session.call.reprompted) == (2, 1, True)
    assert session.call.target.destination == "sip:501"
    assert session.deadline.kind == DeadlineKind.RESIDENT_CONNECT and session.asking == Asking.APARTMENT


def test_actions_travel_between_processes_as_proto_bytes():
    actions = [
        concierge_pb2.LegAction(
            recognition=concierge_pb2.RecognitionContext(hints=["sim"], language="pt-BR")
        ),
        concierge_pb2.LegAction(say=concierge_pb2.Say(text="Olá, é a portaria. Pode liberar?")),
        concierge_pb2.LegAction(hang_up=concierge_pb2.HangUp(after_playback=True)),
    ]
    payload = encode_actions(actions)
    assert isinstance(payload, bytes)
    assert decode_actions(payload) == actions
    with pytest.raises(ValueError, match="truncated"):
        decode_actions(payload[:-3])


def test_a_visitor_resumed_before_the_call_was_known_placed_asks_for_the_same_attempt_again(core):
    """A replica died between 'Certo, vou chamar…' (saved, delivered) and the dialer's answer."""
    session = validated(core)
    assert session.state == FlowState.VALIDATED and session.call.attempt == 1
    resumed = core.handle(session, VisitorStarted(SESSION_ID, "00-trace-span-01"), NOW + 5)
    says = [action.say.text for action in resumed.effects.actions[VISITOR] if action.HasField("say")]
    assert says and "chamando" in says[-1]
    request = resumed.effects.request
    assert isinstance(request, PlaceCallRequest) and request.attempt == 1  # same command id: no second ring
    placed = core.handle(resumed.session, CallPlaced(), NOW + 5)
    assert placed.session.state == FlowState.CALLING_RESIDENT and placed.next_deadline is not None
