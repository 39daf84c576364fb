"""The core tells the gateway, with each question, what kind of answer to expect (issue 17).

The gateway picks the end-of-speech silence from RecognitionContext.expected_answer:
short after "which intent?", a name or the resident's yes/no; long while an apartment
is dictated; its default for the apartment-and-resident sentence.
"""

from __future__ import annotations

import json

import pytest

from porteiro.concierge.v1 import concierge_pb2
from porteiro.directory.v1 import directory_pb2
from porteiro_concierge.core import Conversation, Rules
from porteiro_concierge.core.events import (
    CallPlaced,
    DirectoryAnswered,
    ResidentStarted,
    Utterance,
    VisitorStarted,
)
from porteiro_concierge.extraction.base import Extraction, Intent
from porteiro_concierge.prompts import Prompts
from porteiro_concierge.session import RESIDENT, VISITOR, Session
from porteiro_concierge.settings import ConciergeSettings
from tests.concierge.core_harness import RENATA, SESSION_ID, StaticVocabulary

NOW = 1_000_000.0
SHORT = concierge_pb2.EXPECTED_ANSWER_SHORT
DIGITS = concierge_pb2.EXPECTED_ANSWER_DIGITS
OPEN = concierge_pb2.EXPECTED_ANSWER_OPEN
YES_NO = concierge_pb2.EXPECTED_ANSWER_YES_NO


def conversation(vocabulary: StaticVocabulary | None = None, **overrides: object) -> Conversation:
    overrides = {"whom_question": "apartment_and_resident", **overrides}  # as conftest.WHOM_TOGETHER
    settings = ConciergeSettings(redis_url=None, llm_model=None, **overrides)  # type: ignore[arg-type]
    return Conversation(Rules(settings, Prompts(), vocabulary or StaticVocabulary()))


def contexts(actions: list[concierge_pb2.LegAction]) -> list[concierge_pb2.RecognitionContext]:
    return [action.recognition for action in actions if action.WhichOneof("action") == "recognition"]


@pytest.fixture
def core() -> Conversation:
    return conversation()


def test_the_greeting_expects_a_short_answer(core):
    handled = core.handle(None, VisitorStarted(SESSION_ID, ""), NOW)
    (context,) = contexts(handled.effects.actions[VISITOR])
    assert context.expected_answer == SHORT
    assert handled.session.expected_answers == {VISITOR: SHORT}


def test_each_question_of_the_collection_carries_its_kind(core):
    session = core.handle(None, VisitorStarted(SESSION_ID, ""), NOW).session
    # The intent alone (a visit): the visitor's name is asked next, a short answer.
    handled = core.handle(session, Utterance(VISITOR, "visita", Extraction(intent=Intent.VISIT)), NOW)
    assert [c.expected_answer for c in contexts(handled.effects.actions[VISITOR])] == [SHORT]
    # The name: apartment and resident together, a free sentence.
    handled = core.handle(session, Utterance(VISITOR, "João", Extraction(visitor_name="João")), NOW)
    assert [c.expected_answer for c in contexts(handled.effects.actions[VISITOR])] == [OPEN]
    # An apartment the directory does not know: the apartment is asked again, dictated digits.
    handled = core.handle(
        session, Utterance(VISITOR, "apartamento 909", Extraction(apartment="909", resident_name="Ana")), NOW
    )
    assert handled.effects.request is not None
    answer = directory_pb2.ResolveResponse(
        status=directory_pb2.RESOLVE_STATUS_NO_APARTMENT, normalized_apartment="909"
    )
    handled = core.handle(session, DirectoryAnswered(answer), NOW)
    kinds = [c.expected_answer for c in contexts(handled.effects.actions[VISITOR])]
    assert kinds == [DIGITS], handled.effects.actions[VISITOR]


def test_the_resident_hears_the_brief_after_a_yes_no_context(core):
    session = core.handle(None, VisitorStarted(SESSION_ID, ""), NOW).session
    whole = Extraction(intent=Intent.DELIVERY, visitor_name="João", apartment="501", resident_name="Renata")
    core.handle(session, Utterance(VISITOR, "…", whole), NOW)
    match = directory_pb2.ResolveResponse(status=directory_pb2.RESOLVE_STATUS_MATCH, match=RENATA)
    core.handle(session, DirectoryAnswered(match), NOW)
    core.handle(session, CallPlaced(), NOW)
    handled = core.handle(session, ResidentStarted(), NOW)
    resident = handled.effects.actions[RESIDENT]
    assert [action.WhichOneof("action") for action in resident][:2] == ["recognition", "say"]
    assert resident[0].recognition.expected_answer == YES_NO and "Não." in resident[0].recognition.hints


def test_a_new_kind_is_sent_even_when_the_hints_are_the_same():
    # Without a vocabulary (directory down), "apartment?" and "apartment and resident?" have the
    # same hints ("apartamento"): the kind alone changes, and the gateway must hear it.
    empty = StaticVocabulary()
    empty.apartments, empty.residents, empty.residents_of = [], [], {}
    core = conversation(empty)
    session = core.handle(None, VisitorStarted(SESSION_ID, ""), NOW).session
    both = Extraction(intent=Intent.DELIVERY, visitor_name="João")
    handled = core.handle(session, Utterance(VISITOR, "…", both), NOW)
    (asked_both,) = contexts(handled.effects.actions[VISITOR])
    assert asked_both.expected_answer == OPEN
    core.handle(session, Utterance(VISITOR, "…", Extraction(apartment="909", resident_name="Ana")), NOW)
    answer = directory_pb2.ResolveResponse(
        status=directory_pb2.RESOLVE_STATUS_NO_APARTMENT, normalized_apartment="909"
    )
    handled = core.handle(session, DirectoryAnswered(answer), NOW)
    (asked_apartment,) = contexts(handled.effects.actions[VISITOR])
    assert list(asked_apartment.hints) == list(asked_both.hints)
    assert asked_apartment.expected_answer == DIGITS


def test_the_same_question_again_sends_nothing_new():
    core = conversation(intent_in_confirmation=False)  # the intent asked alone, again and again
    session = core.handle(None, VisitorStarted(SESSION_ID, ""), NOW).session
    # Not understood: the intent is asked as a yes or no ("É uma entrega?"), a new kind of answer.
    session = core.handle(session, Utterance(VISITOR, "hum", Extraction()), NOW).session
    handled = core.handle(session, Utterance(VISITOR, "hum", Extraction()), NOW)  # not understood again
    assert contexts(handled.effects.actions[VISITOR]) == []
    assert handled.effects.actions[VISITOR], "the question is asked again"


def test_a_resumed_visitor_stream_gets_the_kind_again(core):
    session = core.handle(None, VisitorStarted(SESSION_ID, ""), NOW).session
    handled = core.handle(session, VisitorStarted(SESSION_ID, ""), NOW)  # the stream came back
    assert [c.expected_answer for c in contexts(handled.effects.actions[VISITOR])] == [SHORT]


def test_the_kinds_sent_survive_the_session_store(core):
    session = core.handle(None, VisitorStarted(SESSION_ID, ""), NOW).session
    loaded = Session.from_json(session.to_json())
    assert loaded.expected_answers == {VISITOR: SHORT}
    older = json.loads(session.to_json())
    del older["expected_answers"]  # saved before issue 17
    assert Session.from_json(json.dumps(older)).expected_answers == {}
