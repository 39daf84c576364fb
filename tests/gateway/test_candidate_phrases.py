"""The concierge's candidate phrases go to speech with the utterance; their scores come back in it.

A real Leg in process and in virtual time (tests/gateway/harness.py), the speech client faked.
"""

from __future__ import annotations

from porteiro.common.v1 import common_pb2
from porteiro.concierge.v1 import concierge_pb2
from tests.gateway.harness import LegHarness, audio_frames, uuid_frame
from tests.gateway.support import silence, spoken

SESSION = "5e0c1f2a-7b3d-4c8e-9f10-2a3b4c5d6e7f"
NAMES = ["Roberto Nunes", "Roberto", "Lúcia Santos", "Lúcia"]
SCORES = [
    common_pb2.PhraseScore(phrase="Roberto", score=2.5),
    common_pb2.PhraseScore(phrase="Lúcia", score=0.25),
]


async def speak(harness: LegHarness, text: str = "Roberto") -> None:
    for frame in audio_frames(silence(0.4) + spoken(text) + silence(2.0)):
        harness.receive(frame)
        await harness.step()


async def test_candidate_phrases_go_to_speech_and_their_scores_reach_the_concierge() -> None:
    async with LegHarness(settings={"speculative_recognition_ms": 0}) as h:
        h.speech.phrase_scores = SCORES
        h.speech.transcript = "O Homem da Tour."
        h.receive(uuid_frame(SESSION))
        await h.step()
        context = concierge_pb2.RecognitionContext(hints=["Roberto Nunes"], candidate_phrases=NAMES)
        h.act(concierge_pb2.LegAction(recognition=context))
        await h.step()
        await speak(h)
        (transcription,) = h.speech.transcriptions
        assert list(transcription.config.candidate_phrases) == NAMES
        (utterance,) = h.events_of("utterance")
        assert utterance.text == "O Homem da Tour."
        assert [(item.phrase, item.score) for item in utterance.phrase_scores] == [
            ("Roberto", 2.5),
            ("Lúcia", 0.25),
        ]


async def test_a_context_without_candidates_ends_them() -> None:
    async with LegHarness(settings={"speculative_recognition_ms": 0}) as h:
        h.receive(uuid_frame(SESSION))
        await h.step()
        h.act(concierge_pb2.LegAction(recognition=concierge_pb2.RecognitionContext(candidate_phrases=NAMES)))
        await h.step()
        h.act(concierge_pb2.LegAction(recognition=concierge_pb2.RecognitionContext(hints=["sim"])))
        await h.step()
        await speak(h, "Sim")
        (transcription,) = h.speech.transcriptions
        assert list(transcription.config.candidate_phrases) == []
        assert list(transcription.config.hints) == ["sim"]
