"""Utterances cut short: ends of speech the gateway declared while the caller was still speaking,
and the run options that set the gateway's endpointing (`--endpointing before`, `--set`)."""

from pathlib import Path

import pytest

from porteiro_sim.evaluation.phrasing import INTENT, Utterance
from porteiro_sim.evaluation.report import format_call, format_summary
from porteiro_sim.evaluation.run import ENDPOINTING_BEFORE, parse_args, run_settings, stack_config
from porteiro_sim.evaluation.scoring import (
    LineScore,
    end_of_speech_wait,
    ends_while_speaking,
    score_lines,
    speech_ends,
    summarize,
)
from porteiro_sim.report import SpanRecord
from porteiro_sim.script import CallerTurn
from tests.eval.test_scoring import call

WALL = 900.0  # wall-clock = monotonic + 900 s in these tests


def turn_span(onset_s: float, ended_s: float | None) -> SpanRecord:
    """A gateway TURN span (wall-clock seconds) with its SPEECH_ENDED event, if it got one."""
    events = [{"name": "SPEECH_DETECTED", "time_ns": int(onset_s * 1e9)}]
    if ended_s is not None:
        events.append({"name": "SPEECH_ENDED", "time_ns": int(ended_s * 1e9)})
    end_ns = int((ended_s or onset_s) * 1e9) + 1
    return SpanRecord("TURN", "gateway", "t", "s", None, int(onset_s * 1e9), end_ns, {}, events)


def spoken(started: float, ended: float) -> CallerTurn:
    return CallerTurn("Bom dia. É uma entrega.", started, ended, pcm=b"\x01\x00")


def test_speech_ends_are_put_on_the_callers_clock_in_order():
    spans = [turn_span(1010.0, 1011.5), turn_span(1000.0, 1001.2), turn_span(1020.0, None)]
    assert speech_ends(spans, WALL) == pytest.approx([101.2, 111.5])  # a turn still open has no end


def test_an_end_declared_before_the_last_voiced_frame_cuts_the_line():
    line = spoken(100.0, 102.0)
    assert ends_while_speaking(line, [100.9]) == 1  # the pause between the two sentences
    assert ends_while_speaking(line, [100.9, 101.5, 102.4]) == 2  # cut twice; 102.4 is its real end
    # Ends after the last voiced frame (the silence that really ended it) or before it began do not count.
    assert ends_while_speaking(line, [99.5, 102.0, 102.3]) == 0
    # Keys are not speech: nothing to cut.
    assert ends_while_speaking(CallerTurn("[DTMF 501#]", 100.0, 102.0), [101.0]) == 0


def test_the_end_of_speech_wait_is_from_the_last_voiced_frame_to_the_next_end():
    line = spoken(100.0, 102.0)
    assert end_of_speech_wait(line, [100.9, 102.45, 102.9]) == pytest.approx(0.45)
    assert end_of_speech_wait(line, [100.9]) is None  # only a cut: no end after the line
    assert end_of_speech_wait(line, [106.0]) is None  # too late to be this line's end
    assert end_of_speech_wait(CallerTurn("[DTMF 1]", 100.0, 102.0), [102.3]) is None


def test_score_lines_marks_lines_cut_short_and_keeps_their_times():
    utterance = Utterance("Bom dia. É uma entrega.", {INTENT: ("entrega",)}, "intent:greeting")
    said = [(utterance, "intent", spoken(100.0, 102.0)), (utterance, "intent", spoken(110.0, 112.0))]
    ends = speech_ends(
        [turn_span(1000.9, 1000.9), turn_span(1001.2, 1002.5), turn_span(1010.1, 1012.6)], WALL
    )
    lines = score_lines(said, ["Bom dia.", "É uma entrega."], "visitor", ends, WALL)
    assert [line.cuts for line in lines] == [1, 0]
    assert [line.end_wait for line in lines] == [pytest.approx(0.5), pytest.approx(0.6)]
    assert [line.cut_short for line in lines] == [True, False]
    assert (lines[0].started, lines[0].ended) == (1000.0, 1002.0)  # wall clock, as the spans
    # Without the gateway's ends (older callers of score_lines), nothing is counted as cut.
    assert [line.cuts for line in score_lines(said, [None, None], "visitor")] == [0, 0]


def cut_line(leg: str, question: str, cuts: int, said: str = "x", wait: float | None = None) -> LineScore:
    line = LineScore(leg, question, said, "y", {}, f"{question}:p", 1.0, 0, 1, cuts)
    line.end_wait = wait
    return line


def test_summary_rate_counts_spoken_lines_of_both_legs_not_keys():
    lines = [
        cut_line("visitor", "intent", 2, wait=0.3),
        cut_line("visitor", "intent", 0, wait=0.4),
        cut_line("visitor", "apartment", 0, wait=0.9),
        cut_line("visitor", "keypad", 0, said="#501#"),
        cut_line("resident", "decision", 1),
    ]
    summary = summarize([call(0, lines=lines)])
    assert str(summary.cut_short) == "2/4 (50%)"  # the keyed line is not speech
    assert {key: str(rate) for key, rate in summary.cut_short_by_question.items()} == {
        "resident:decision": "1/1 (100%)",
        "visitor:apartment": "0/1 (0%)",
        "visitor:intent": "1/2 (50%)",
    }
    assert (summary.end_wait_p50, summary.end_wait_p95) == (0.4, 0.9)
    text = format_summary(summary, {})
    assert "end of speech declared after the caller's last voiced frame: p50 400 ms, p95 900 ms" in text
    assert "utterances cut short (end of speech declared while still speaking): 2/4 (50%)" in text
    assert "   visitor:intent                  1/2 (50%)" in text
    assert "visitor:apartment" not in text  # only the questions with cuts are listed
    assert "[cut short x2]" in format_call(call(0, lines=lines))


def test_endpointing_before_sets_every_silence_to_600_ms_and_speculation_off(tmp_path: Path):
    env = stack_config(parse_args(["--endpointing", "before"]), tmp_path, "q").env
    assert env["gateway"] == ENDPOINTING_BEFORE
    assert {env["gateway"][f"PORTEIRO_GATEWAY_END_OF_SPEECH_{kind}_MS"] for kind in ("YES_NO", "SHORT")} == {
        "600"
    }
    assert env["gateway"]["PORTEIRO_GATEWAY_SPECULATIVE_RECOGNITION_MS"] == "0"
    assert "gateway" not in stack_config(parse_args([]), tmp_path, "q").env  # the defaults: nothing set


def test_set_goes_to_the_service_named_by_the_prefix_and_overrides(tmp_path: Path):
    args = parse_args(
        [
            "--endpointing",
            "before",
            "--set",
            "PORTEIRO_GATEWAY_END_OF_SPEECH_SHORT_MS=450",
            "--set",
            "PORTEIRO_SPEECH_ESPEAK_SPEED_WPM=150",
        ]
    )
    env = stack_config(args, tmp_path, "q").env
    assert env["gateway"]["PORTEIRO_GATEWAY_END_OF_SPEECH_SHORT_MS"] == "450"
    assert env["gateway"]["PORTEIRO_GATEWAY_END_OF_SPEECH_OPEN_MS"] == "600"
    assert env["speech"]["PORTEIRO_SPEECH_ESPEAK_SPEED_WPM"] == "150"
    assert env["concierge"]["PORTEIRO_CONCIERGE_RESIDENT_CONNECT_TIMEOUT_SECONDS"] == "8"  # kept
    settings = run_settings(args)
    assert settings["endpointing"] == "before"
    assert "PORTEIRO_GATEWAY_END_OF_SPEECH_SHORT_MS=450" in settings["settings"]


@pytest.mark.parametrize("bad", ["PORTEIRO_GATEWAY_X", "HOME=/tmp", "PORTEIRO_NOSUCH_X=1"])
def test_set_refuses_what_is_not_a_service_setting(bad: str):
    with pytest.raises(SystemExit):
        parse_args(["--set", bad])
