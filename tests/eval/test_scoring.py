"""Scoring: word error rate, slots heard, alignment with the gateway's turns, and the totals."""

import pytest

from porteiro_sim.evaluation.personas import Persona, Target
from porteiro_sim.evaluation.phrasing import APARTMENT, INTENT, RESIDENT, VISITOR_NAME, Utterance
from porteiro_sim.evaluation.scoring import (
    CallScore,
    LineScore,
    align_transcripts,
    expected_outcome,
    percentile,
    score_lines,
    slot_heard,
    summarize,
    understood,
    word_errors,
)
from porteiro_sim.report import SpanRecord
from porteiro_sim.script import CallerTurn

TARGET = Target("Renata Oliveira", (), "501", "", "sip:501@condominio.local")


def persona(index=0, intent="delivery", decision="yes", name="Pedro"):
    return Persona(index, intent, name, "", TARGET, decision, "pt-br@150", "pt-br@150", f"s/{index}")


@pytest.mark.parametrize(
    ("reference", "hypothesis", "errors", "words"),
    [
        ("Apartamento 501.", "apartamento quinhentos e um", 0, 4),  # digits count as their words
        ("É uma visita.", "Minita.", 3, 3),  # 2 deletions + 1 substitution
        ("Sim, pode subir.", "Sim pode subir", 0, 3),
        ("Entrega.", "", 1, 1),
        ("Vim visitar a Renata.", "Vim visitar a Renata Oliveira.", 1, 4),
    ],
)
def test_word_errors(reference, hypothesis, errors, words):
    assert word_errors(reference, hypothesis) == (errors, words)


@pytest.mark.parametrize(
    ("forms", "transcript", "heard"),
    [
        (("501", "quinhentos e um", "cinco zero um"), "Apartamento 501.", True),
        (("501", "quinhentos e um", "cinco zero um"), "apartamento 5 0 1", True),
        (("501", "quinhentos e um", "cinco zero um"), "Quinhentos e um.", True),
        (("501", "quinhentos e um", "cinco zero um"), "Apartamento 5001.", False),
        (("501", "quinhentos e um", "cinco zero um"), "Apartamento 21.", False),
        (("renata oliveira",), "A Renata, Oliveira!", True),
        (("renata oliveira",), "Renata.", False),
        (("leticia",), "Letícia", True),  # accents do not matter
        (("visita",), "Minita.", False),
        (("visita",), "é visitante", False),  # whole words only
    ],
)
def test_slot_heard(forms, transcript, heard):
    assert slot_heard(forms, transcript) is heard


def turn(started, ended, reply=None, text="x"):
    return CallerTurn(text, started, ended, pcm=b"\x01\x00" if text else b"", reply_started=reply)


def span(start_s, transcript, leg="visitor", session="s1"):
    attributes = {"porteiro.session_id": session, "porteiro.leg": leg, "porteiro.transcript": transcript}
    return SpanRecord(
        "TURN", "gateway", "t", "s", None, int(start_s * 1e9), int(start_s * 1e9) + 1, attributes, []
    )


def test_align_transcripts_by_time():
    # Monotonic 100 s = wall 1000 s.
    turns = [turn(100.0, 101.0), turn(110.0, 111.5), turn(120.0, 121.0)]
    spans = [span(1000.2, "Entrega."), span(1010.1, "Meu nome"), span(1011.0, "é Pedro.")]
    assert align_transcripts(turns, spans, wall_offset=900.0) == ["Entrega.", "Meu nome é Pedro.", None]
    # A span far from every turn (the gateway heard something else) is left out.
    assert align_transcripts(turns, [span(1050.0, "?")], wall_offset=900.0) == [None, None, None]


def test_score_lines_counts_slots_and_errors():
    said = [
        (
            Utterance("Apartamento 501.", {APARTMENT: ("501", "quinhentos e um")}, "apartment:digits"),
            "apartment",
        ),
        (Utterance("Renata Oliveira.", {RESIDENT: ("renata oliveira",)}, "resident:full"), "resident"),
        (Utterance("#501#", {}, "keypad"), "keypad"),
    ]
    turns = [turn(0, 1, reply=2.5), turn(3, 4, reply=5.0), turn(6, 6.5, reply=6.6, text="")]
    lines = score_lines(
        [(u, q, t) for (u, q), t in zip(said, turns, strict=True)],
        ["Apartamento 21.", "Renata Oliveira.", None],
        "visitor",
    )
    assert [line.slots for line in lines] == [{APARTMENT: False}, {RESIDENT: True}, {}]
    assert [(line.errors, line.words) for line in lines] == [
        (1, 4),
        (0, 2),
        (0, 0),
    ]  # "vinte e um" for "quinhentos e um"
    assert [line.latency for line in lines] == [1.5, 1.0, pytest.approx(0.1)]


def test_understood_reads_the_last_naming_sentence():
    read = [
        ("greeting", {}),
        ("confirm_visit", {"visitor_name": "Claudia", "resident_name": "Bruna Almeida", "apartment": "402"}),
        ("resident_brief_visit", {"visitor_name": "Claudia", "apartment": "402"}),
    ]
    assert understood(read) == ("visit", "Claudia", "Bruna Almeida")
    assert understood([("greeting", {})]) == (None, None, None)


def call(index, *, right=True, wrong=False, intent="delivery", heard_intent="delivery", keypad=False, turns=4,
         outcome="visitor_authorized_delivery", name="Pedro", lines=()):  # fmt: skip
    who = persona(index, intent)
    return CallScore(
        index=index,
        persona=who,
        session_id=f"s{index}",
        reached_right_resident=right,
        reached_wrong_resident=wrong,
        destinations=[TARGET.destination],
        intent_heard=heard_intent,
        visitor_name_heard=name,
        resident_named=TARGET.resident,
        visitor_outcome=outcome,
        expected_outcome=expected_outcome(who),
        used_keypad=keypad,
        resident_used_keypad=False,
        visitor_turns=turns,
        lines=list(lines),
        unidentified_replies=0,
        seconds=60.0,
    )


def line(question, slots, errors, words, latency):
    return LineScore("visitor", question, "x", "y", slots, f"{question}:p", latency, errors, words)


def test_summary_figures():
    scores = [
        call(
            0,
            lines=[
                line("intent", {INTENT: True}, 0, 1, 1.0),
                line("apartment", {APARTMENT: False}, 2, 2, 2.0),
            ],
        ),
        call(
            1,
            right=False,
            wrong=True,
            heard_intent="visit",
            keypad=True,
            turns=7,
            name="Pedra",
            outcome="visitor_denied",
            lines=[line("intent", {INTENT: False}, 1, 1, 3.0)],
        ),  # fmt: skip
        call(2, right=False, heard_intent=None, outcome=None, turns=5, name=None),
        call(3, intent="visit", heard_intent="visit", outcome="visitor_authorized_visit", name="pedro"),
    ]
    summary = summarize(scores)
    assert str(summary.right_resident) == "2/4 (50%)"
    assert summary.right_resident_and_intent.count == 2
    assert summary.right_intent.count == 2  # call 1 heard "visit" for a delivery, call 2 nothing
    assert summary.decision_right.count == 2
    assert summary.keypad.count == 1 and summary.wrong_resident.count == 1
    assert summary.median_visitor_turns == 4.5
    assert summary.recognition[INTENT].count == 1 and summary.recognition[INTENT].total == 2
    assert summary.recognition[APARTMENT].percent == 0.0
    assert summary.word_error_rate == pytest.approx(3 / 4)
    assert summary.recognition_wer == {"intent": 0.5, "apartment": 1.0}
    assert (summary.latency_p50, summary.latency_p95) == (2.0, 3.0)


def test_visitor_names_count_over_the_callers_who_said_theirs():
    said_name = [line("visitor_name", {VISITOR_NAME: True}, 0, 1, None)]
    scores = [
        call(0, name=None),  # a courier not asked its name: not counted
        call(1, name="Pedra", lines=said_name),
        call(2, name=None, lines=said_name),
        call(3, name="pedro", lines=said_name),  # "pedro" is "Pedro"
    ]
    assert str(summarize(scores).visitor_name_right) == "1/3 (33%)"


def test_percentile_nearest_rank():
    values = sorted(float(value) for value in range(1, 21))
    assert percentile(values, 50) == 10.0
    assert percentile(values, 95) == 19.0
    assert percentile([], 50) is None


def test_expected_outcome_follows_the_decision():
    assert expected_outcome(persona(intent="visit")) == "visitor_authorized_visit"
    assert expected_outcome(persona(decision="no")) == "visitor_denied"
    assert expected_outcome(persona(decision="front_desk")) == "visitor_left_at_front_desk"
