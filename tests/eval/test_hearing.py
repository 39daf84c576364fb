"""Identifying the system's sentences on the wire, including those that carry a value not known beforehand.

The system's voice here is the local espeak-ng (deterministic, like the speech service's).
"""

import numpy as np
import pytest

from porteiro_common.prompts import load_prompts
from porteiro_sim import audio
from porteiro_sim.evaluation.hearing import PARTIAL, build_reply_matcher, prompt_beginnings
from porteiro_sim.sentences import Sentence
from porteiro_sim.speech import EspeakVoice

pytestmark = pytest.mark.skipif(not audio.espeak_available(), reason="needs espeak-ng")

KEYS = ("no_apartment", "no_resident_anywhere", "ambiguous_resident", "confirm_visit", "visitor_authorized_visit", "ask_apartment")  # fmt: skip


@pytest.fixture(scope="module")
def prompts():
    every = load_prompts()
    return {key: every[key] for key in KEYS}


async def test_prompts_with_values_are_known_by_their_beginning(prompts):
    voice = EspeakVoice("pt-br", 175)
    beginnings = await prompt_beginnings(voice, prompts)
    keys = {beginning.key for beginning in beginnings}
    # "{resident_name} autorizou..." starts with a value and fixed prompts need no beginning.
    assert {"no_apartment", "no_resident_anywhere", "ambiguous_resident", "confirm_visit"} <= keys
    assert not keys & {"visitor_authorized_visit", "ask_apartment"}
    known = [Sentence("ask_apartment", prompts["ask_apartment"])]
    matcher = await build_reply_matcher(voice, known, beginnings)

    async def heard(text: str) -> list[Sentence]:
        # As received: some silence, the sentence, silence; a sample value or two off, as the speech
        # service's streamed resampling leaves a sentence synthesized apart from the one expected.
        samples = np.frombuffer(await voice.speak(text), dtype="<i2").astype(np.int32)
        samples += np.random.default_rng(len(text)).integers(-2, 3, samples.size)
        pcm = np.clip(samples, -32768, 32767).astype("<i2").tobytes()
        return matcher.identify(audio.silence(0.3) + pcm + audio.silence(0.5))

    misheard_name = prompts["no_resident_anywhere"].format(resident_name="Arreti")
    assert [s.key for s in await heard(misheard_name)] == ["no_resident_anywhere"]
    assert (await heard(misheard_name))[0].text.endswith(PARTIAL)
    misheard_number = prompts["no_apartment"].format(apartment="4100")
    assert [s.key for s in await heard(misheard_number)] == ["no_apartment"]
    options = prompts["ambiguous_resident"].format(options="Luiza Mendes do 201 ou Luísa Mendes do 202")
    assert [s.key for s in await heard(options)] == ["ambiguous_resident"]
    # Whole sentences known beforehand are identified whole (the speech service's cache gives them
    # the same samples every time).
    whole = await voice.speak(prompts["ask_apartment"])
    assert matcher.identify(audio.silence(0.3) + whole + audio.silence(0.5)) == known
    # Something else is not mistaken for a prompt.
    assert await heard("Bom dia, tudo bem com o senhor?") == []
    # A whole sentence and, with no pause, a prompt known by its beginning: both (the holding
    # sentence of a slow turn followed at once by the reply).
    merged = whole + np.frombuffer(await voice.speak(misheard_name), dtype="<i2").tobytes()
    found = matcher.identify(audio.silence(0.3) + merged + audio.silence(0.5))
    assert [sentence.key for sentence in found] == ["ask_apartment", "no_resident_anywhere"]
    # The other way round, they are still in the order said: the question said last is the one
    # the caller answers ("Não encontrei Arreti entre os moradores." then a question known whole).
    found = matcher.identify(audio.silence(0.3) + merged[len(whole) :] + whole + audio.silence(0.5))
    assert [sentence.key for sentence in found] == ["no_resident_anywhere", "ask_apartment"]
    # A prompt known whole is not found again by its beginning: "Certo, João, visita para Lucas
    # Martins, …" is that sentence only, not also an unknown "Certo, …".
    confirmation = Sentence(
        "confirm_visit",
        prompts["confirm_visit"].format(visitor_name="João", resident_name="Lucas Martins", apartment="302"),
    )
    with_confirmation = await build_reply_matcher(voice, [*known, confirmation], beginnings)
    spoken = await voice.speak(confirmation.text)
    assert with_confirmation.identify(audio.silence(0.3) + spoken + audio.silence(0.5)) == [confirmation]


def test_shared_frames_tolerate_rounding_but_not_other_sounds():
    from porteiro_sim.evaluation.hearing import shared_frames

    speech = audio.tone(300, 0.4) + audio.silence(0.2) + audio.tone(500, 0.4)
    samples = np.frombuffer(speech, dtype="<i2").astype(np.int32)
    rounded = samples + np.random.default_rng(1).integers(-2, 3, samples.size)
    rounded_pcm = np.clip(rounded, -32768, 32767).astype("<i2").tobytes()
    assert shared_frames(speech, rounded_pcm) == len(audio.frames_of(speech))  # the pause too
    other = audio.tone(300, 0.4) + audio.silence(0.2) + audio.tone(700, 0.4)
    assert shared_frames(speech, other) == 30  # 0.6 s of 20 ms frames, then another sound
