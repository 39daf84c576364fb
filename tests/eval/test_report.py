"""The report (text and JSON) and the command line."""

import json

import pytest

from porteiro_sim.evaluation.phrasing import APARTMENT, INTENT
from porteiro_sim.evaluation.report import format_call, format_summary, to_json
from porteiro_sim.evaluation.run import main, parse_args, run_settings
from porteiro_sim.evaluation.scoring import LineScore, summarize
from porteiro_sim.evaluation.voices import VoiceSpec, add_line_noise, parse_voices
from tests.eval.test_scoring import call


def scores():
    lines = [
        LineScore("visitor", "intent", "Visita.", "Minita.", {INTENT: False}, "intent:Visita.", 1.2, 1, 1),
        LineScore(
            "visitor", "apartment", "Apto 501.", "Apto 501.", {APARTMENT: True}, "apartment:digits", 0.9, 0, 2
        ),
        LineScore("visitor", "keypad", "#501#", None, {}, "keypad", 0.1),
    ]
    return [call(0, lines=lines), call(1, right=False, wrong=True, keypad=True), call(2)]


def test_summary_text_has_the_headline_and_the_figures():
    args = parse_args(["--calls", "3", "--seed", "5"])
    text = format_summary(summarize(scores()), run_settings(args))
    assert "calls reaching the right resident: 2/3 (67%)" in text.splitlines()
    for expected in (
        "calls that needed the keypad (visitor): 1/3 (33%)",
        "calls reaching a wrong resident: 1/3 (33%)",
        "visitor turns per call (median): 4",
        "turn latency (end of speech -> reply): p50 900 ms, p95 1200 ms",
        "word error rate (digits as words): 33%",
        "   intent        0/1 (0%)",
        "   apartment     1/1 (100%)",
        "   pt-br@150        1/2 (50%)",
        "seed 5",
    ):
        assert expected in text, expected


def test_json_report_is_complete_and_serialisable():
    args = parse_args(["--calls", "3"])
    document = json.loads(json.dumps(to_json(summarize(scores()), scores(), run_settings(args))))
    summary = document["summary"]
    assert summary["right_resident"] == {"count": 2, "total": 3, "percent": 66.7}
    assert summary["recognition"]["intent"]["total"] == 1
    assert document["settings"]["calls"] == 3
    first = document["calls"][0]
    assert first["persona"]["target"]["apartment"] == "501"
    assert [line["said"] for line in first["lines"]] == ["Visita.", "Apto 501.", "#501#"]
    assert document["calls"][1]["reached_wrong_resident"] is True


def test_call_lines_show_said_and_heard():
    text = format_call(scores()[0])
    assert text.startswith("[OK ] call 1: delivery by Pedro for Renata Oliveira (501)")
    assert "'Visita.'  -> 'Minita.'" in text
    assert "WRONG" in format_call(scores()[1])


def test_command_line_options():
    args = parse_args(
        ["--calls", "4", "--seed", "9", "--voices", "pt-br+m3@150, pt-br+f2@140", "--noise", "20"]
    )
    assert (args.calls, args.seed, args.voices, args.noise) == (4, 9, ["pt-br+m3@150", "pt-br+f2@140"], 20.0)
    with pytest.raises(SystemExit):
        parse_args(["--voices", "pt-br@fast"])
    with pytest.raises(SystemExit):
        parse_args(["--calls", "0"])


def test_a_bad_data_file_stops_before_anything_starts(tmp_path, capsys):
    bad = tmp_path / "condominio.yaml"
    bad.write_text("apartments: [{number: 1}]")
    assert main(["--data", str(bad), "--calls", "1"]) == 2
    assert "destination" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("spec", "voice", "rate"), [("pt-br+m3@150", "pt-br+m3", 150), ("pt-br", "pt-br", 150)]
)
def test_voice_specs(spec, voice, rate):
    assert VoiceSpec.parse(spec) == VoiceSpec(voice, rate)


def test_voice_spec_errors():
    for bad in ("@150", "pt-br@9000", "pt-br@x"):
        with pytest.raises(ValueError):
            VoiceSpec.parse(bad)
    with pytest.raises(ValueError):
        parse_voices(" , ")


def test_line_noise_is_seeded_and_at_the_asked_level():
    import numpy as np

    from porteiro_sim import audio

    speech = audio.tone(440, 1.0)
    noisy = add_line_noise(speech, snr_db=10, seed=3)
    assert noisy == add_line_noise(speech, snr_db=10, seed=3) and noisy != add_line_noise(speech, 10, seed=4)
    clean = np.frombuffer(speech, "<i2").astype(float)
    noise = np.frombuffer(noisy, "<i2").astype(float) - clean
    assert 10 * np.log10(np.mean(clean**2) / np.mean(noise**2)) == pytest.approx(10, abs=0.5)
