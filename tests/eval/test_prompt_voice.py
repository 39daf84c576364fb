"""`porteiro-eval --prompt-voice`: variants, the prompts measured, scoring and the report (no whisper)."""

import json

import pytest

from porteiro_sim.evaluation.personas import Target
from porteiro_sim.evaluation.prompt_voice import (
    PromptScore,
    Variant,
    VariantResult,
    format_prompt_report,
    measured_sentences,
    parse_variant,
    prompt_report_json,
    score_prompt,
)
from porteiro_sim.evaluation.run import parse_args
from porteiro_sim.evaluation.scoring import word_errors, words_found
from porteiro_sim.sentences import Sentence

TARGET = Target("Renata Oliveira", (), "501", "", "sip:501@condominio.local")


def test_a_variant_is_a_name_and_speech_settings():
    variant = parse_variant(
        "m3-140:PORTEIRO_SPEECH_ESPEAK_VOICE=pt-br+m3, PORTEIRO_SPEECH_ESPEAK_SPEED_WPM=140"
    )
    assert variant == Variant(
        "m3-140", (("PORTEIRO_SPEECH_ESPEAK_VOICE", "pt-br+m3"), ("PORTEIRO_SPEECH_ESPEAK_SPEED_WPM", "140"))
    )
    assert parse_variant("defaults:") == Variant("defaults")


@pytest.mark.parametrize(
    "bad",
    [":PORTEIRO_SPEECH_ESPEAK_VOICE=pt", "x:PORTEIRO_GATEWAY_VAD_AGGRESSIVENESS=3", "x:ESPEAK=1", "x:P"],
)
def test_a_variant_sets_only_speech_settings_and_has_a_name(bad):
    with pytest.raises(SystemExit):
        parse_args(["--prompt-voice", "--variant", bad])


def test_every_prompt_is_measured_filled_except_one_word_fragments():
    sentences = measured_sentences(TARGET, None)
    keys = {sentence.key for sentence in sentences}
    assert {"greeting", "ask_intent", "confirm_resident", "visitor_authorized_visit"} <= keys
    assert "ambiguous_joiner" not in keys  # "ou"
    texts = {sentence.key: sentence.text for sentence in sentences}
    assert texts["confirm_resident"] == "Renata Oliveira, do 501?"
    assert "Pedro" in texts["confirm_delivery"]
    assert all("{" not in text for text in texts.values())


def test_a_prompt_is_scored_by_word_errors_digits_as_words():
    score = score_prompt(Sentence("confirm_apartment", "Apartamento 501?"), "apartamento quinhentos e um")
    assert (score.errors, score.words, score.found, score.wer) == (0, 4, 4, 0.0)
    greeting = score_prompt(
        Sentence("greeting", "Condomínio Apoena, em que posso ajudar?"),
        "Onde o menino apoi na encitóção da Utah.",
    )
    assert greeting.errors >= 6 and greeting.wer > 0.9
    assert greeting.found == 0


def test_words_found_count_the_prompts_words_in_order_and_ignore_invented_ones():
    text = "Qual é o seu nome, por favor?"
    assert words_found(text, "wow, o seu nome por favor") == 5  # "qual é" lost
    # Invented words add errors but take nothing away from what was found.
    padded = "wow, o seu nome por favor, obrigado pela atenção e até a próxima"
    assert words_found(text, padded) == 5
    assert word_errors(text, padded)[0] > word_errors(text, "wow, o seu nome por favor")[0]
    assert words_found(text, "favor por nome") == 1  # order matters
    assert words_found("Apartamento 501.", "apartamento quinhentos e um") == 4


def result(name, errors, settings=()):
    prompts = [
        PromptScore("greeting", "Condomínio Apoena, em que posso ajudar?", "?", errors[0], 6, 6 - errors[0]),
        PromptScore("holding", "Um momento, por favor.", "um momento por favor", errors[1], 4, 4),
    ]
    return VariantResult(Variant(name, settings), prompts, seconds=70.0)


def test_report_compares_variants_overall_and_per_prompt():
    results = [
        result("pt-br@160", (6, 0)),
        result("pt-br@140,tel", (3, 0), (("PORTEIRO_SPEECH_ESPEAK_SPEED_WPM", "140"),)),
    ]
    assert results[0].wer == pytest.approx(0.6) and results[0].exact == 1
    assert results[1].found == pytest.approx(0.7)
    text = format_prompt_report(results)
    assert "   pt-br@160       60%   40%   1/2    defaults" in text
    assert "   pt-br@140,tel   30%   70%   1/2    PORTEIRO_SPEECH_ESPEAK_SPEED_WPM=140" in text
    assert "   greeting                         100% |  50%" in text
    assert "   holding                            0% |   0%" in text
    document = json.loads(json.dumps(prompt_report_json(results, {"source": "abc"})))
    assert [variant["wer"] for variant in document["variants"]] == [0.6, 0.3]
    assert [variant["found"] for variant in document["variants"]] == [0.4, 0.7]
    assert document["variants"][1]["settings"] == {"PORTEIRO_SPEECH_ESPEAK_SPEED_WPM": "140"}
    assert document["variants"][0]["prompts"][0]["key"] == "greeting"


def test_a_failed_variant_is_reported_with_its_error():
    failed = VariantResult(
        Variant("bad", (("PORTEIRO_SPEECH_ESPEAK_VOICE", "xx"),)), error="RuntimeError: exited"
    )
    text = format_prompt_report([failed])
    assert "n/a" in text and "error: RuntimeError: exited" in text
    assert failed.wer is None and failed.found is None
