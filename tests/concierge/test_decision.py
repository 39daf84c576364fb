"""The resident's answer: natural pt-BR, whole words only, refusals win over embedded yes-words."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from porteiro_concierge.decision import Decision, decide_from_key, decide_from_text

CASES = [
    ("Sim", Decision.AUTHORIZE),
    ("Sim, pode subir.", Decision.AUTHORIZE),
    ("pode", Decision.AUTHORIZE),
    ("Libera aí", Decision.AUTHORIZE),
    ("autorizo", Decision.AUTHORIZE),
    ("Manda subir!", Decision.AUTHORIZE),
    ("Tudo bem, não tem problema", Decision.AUTHORIZE),
    ("Não", Decision.DENY),
    ("Não conheço", Decision.DENY),
    ("Não autorizo.", Decision.DENY),
    ("Negativo", Decision.DENY),
    ("Não pode subir não", Decision.DENY),
    ("Não conheço, não autorizo.", Decision.DENY),
    ("Pode deixar na portaria", Decision.FRONT_DESK),
    ("deixa com o porteiro", Decision.FRONT_DESK),
    ("Assim que der eu desço", Decision.UNCLEAR),  # "assim" is not "sim"
    ("Simone?", Decision.UNCLEAR),
    ("Não sei, quem é?", Decision.UNCLEAR),
    ("sim... não, espera", Decision.UNCLEAR),
    ("", Decision.UNCLEAR),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_speech(text, expected):
    assert decide_from_text(text, delivery=True) == expected


def test_front_desk_only_for_deliveries():
    assert decide_from_text("deixa na portaria", delivery=False) == Decision.UNCLEAR


@pytest.mark.parametrize(
    ("key", "expected"), [("1", Decision.AUTHORIZE), ("2", Decision.DENY), ("9", Decision.UNCLEAR)]
)
def test_keys(key, expected):
    assert decide_from_key(key, delivery=False) == expected
    assert decide_from_key("3", delivery=True) == Decision.FRONT_DESK


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_any_text_gives_a_decision_and_a_refusal_never_authorizes(text):
    decision = decide_from_text(text, delivery=True)
    assert isinstance(decision, Decision)
    assert decide_from_text(f"não autorizo. {text}", delivery=False) != Decision.AUTHORIZE
