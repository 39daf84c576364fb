"""`porteiro-eval --prompt-voice`: how well Porteiro's own sentences come through, as the caller gets them.

Every sentence of the prompts file (filled with a visitor "Pedro" and the first resident
of the directory file) is synthesized by the real speech service at 8 kHz, exactly as the
gateway asks for it and plays it, then recognised by the same service's whisper without
hints (a caller has no list of expected phrases). The word error rate of each prompt and
of all of them is a machine proxy for how hard the voice is to follow on the line.

Each `--variant NAME:VARIABLE=VALUE,...` starts the speech service with those settings
(voice, rate, word gap, telephone shaping...), one after another, so that voices and
processing can be chosen by measurement; without variants, the service's defaults
(and `--set`) are measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from porteiro_sim.evaluation.personas import Target
from porteiro_sim.evaluation.scoring import word_errors, words_found
from porteiro_sim.sentences import Sentence, prompt_sentences
from porteiro_sim.speech import SpeechServiceRecogniser, SpeechServiceVoice
from porteiro_sim.stack import ServiceProcess

VISITOR_NAME = "Pedro"


@dataclass(frozen=True)
class Variant:
    """A named set of speech service settings to measure."""

    name: str
    settings: tuple[tuple[str, str], ...] = ()


def parse_variant(text: str) -> Variant:
    """`m3-140:PORTEIRO_SPEECH_ESPEAK_VOICE=pt-br+m3,PORTEIRO_SPEECH_ESPEAK_SPEED_WPM=140`."""
    name, _, assignments = text.partition(":")
    settings = []
    for assignment in filter(None, (part.strip() for part in assignments.split(","))):
        variable, equals, value = assignment.partition("=")
        if not equals or not variable.startswith("PORTEIRO_SPEECH_"):
            raise argparse.ArgumentTypeError(f"{assignment}: expected PORTEIRO_SPEECH_<SETTING>=VALUE")
        settings.append((variable, value))
    if not name.strip():
        raise argparse.ArgumentTypeError(f"{text}: a variant needs a name (NAME:VARIABLE=VALUE,...)")
    return Variant(name.strip(), tuple(settings))


@dataclass
class PromptScore:
    key: str
    text: str
    heard: str
    errors: int
    words: int
    found: int = 0  # words of the prompt recognised, in order (words whisper invented do not count)

    @property
    def wer(self) -> float:
        return self.errors / self.words if self.words else 0.0


@dataclass
class VariantResult:
    variant: Variant
    prompts: list[PromptScore] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    @property
    def wer(self) -> float | None:
        words = sum(prompt.words for prompt in self.prompts)
        return sum(prompt.errors for prompt in self.prompts) / words if words else None

    @property
    def found(self) -> float | None:
        """Share of the prompts' words recognised, in order (blind to invented words, unlike WER)."""
        words = sum(prompt.words for prompt in self.prompts)
        return sum(prompt.found for prompt in self.prompts) / words if words else None

    @property
    def exact(self) -> int:
        """Prompts recognised without a single word wrong."""
        return sum(1 for prompt in self.prompts if prompt.errors == 0)


def measured_sentences(target: Target, prompts_file: str | None) -> list[Sentence]:
    """Every prompt filled with a sample visitor and resident; one-word fragments ("ou") left out."""
    values = {"visitor_name": VISITOR_NAME, "resident_name": target.resident, "apartment": target.apartment}
    return [sentence for sentence in prompt_sentences(values, prompts_file) if len(sentence.text.split()) > 1]


def score_prompt(sentence: Sentence, heard: str) -> PromptScore:
    errors, words = word_errors(sentence.text, heard)
    return PromptScore(sentence.key, sentence.text, heard, errors, words, words_found(sentence.text, heard))


async def measure_variant(
    variant: Variant, sentences: list[Sentence], base: dict[str, str], work: Path, say: Any
) -> VariantResult:
    """Start the speech service with the variant's settings; synthesize and recognise every sentence."""
    slug = "".join(char if char.isalnum() else "-" for char in variant.name)
    env = {**base, **dict(variant.settings), "PORTEIRO_SPEECH_SHUTDOWN_DELAY_SECONDS": "0.2"}
    service = ServiceProcess(
        "speech", "porteiro_speech", "PORTEIRO_SPEECH_", env, work / f"speech-{slug}.log"
    )
    result = VariantResult(variant)
    began = time.monotonic()
    service.start(Path.cwd())
    try:
        await service.wait_listening(("grpc",), 240.0)
        await service.wait_serving(240.0)
        voice, recogniser = SpeechServiceVoice(service.target), SpeechServiceRecogniser(service.target)
        try:
            for sentence in sentences:
                heard = await recogniser.transcribe(await voice.speak(sentence.text))
                result.prompts.append(score_prompt(sentence, heard))
        finally:
            await voice.close()
            await recogniser.close()
    except Exception as error:  # one variant failing (a bad setting) must not stop the others
        result.error = f"{type(error).__name__}: {error}"
    finally:
        service.terminate()
        await service.wait_exit(20.0)
    result.seconds = time.monotonic() - began
    say(
        f"   {variant.name}: WER {_percent(result.wer)}, words found {_percent(result.found)}, "
        f"{result.exact}/{len(result.prompts)} exact ({result.seconds:.0f} s)"
    )
    return result


def _percent(value: float | None) -> str:
    return " n/a" if value is None else f"{value:4.0%}"


def format_prompt_report(results: list[VariantResult]) -> str:
    lines = ["== Porteiro's own voice, recognised as the caller receives it (8 kHz, whisper, no hints)"]
    width = max(len(result.variant.name) for result in results)
    lines.append(f"   {'variant':<{width}}   WER  found  exact   settings")
    for result in results:
        settings = (
            ", ".join(f"{variable}={value}" for variable, value in result.variant.settings) or "defaults"
        )
        lines.append(
            f"   {result.variant.name:<{width}}  {_percent(result.wer)}  {_percent(result.found)}  "
            f"{result.exact:>2}/{len(result.prompts):<3}  {settings}"
        )
        if result.error:
            lines.append(f"      error: {result.error}")
    lines.append(
        "Word error rate per prompt (" + " | ".join(result.variant.name for result in results) + "):"
    )
    keys = list(dict.fromkeys(prompt.key for result in results for prompt in result.prompts))
    for key in keys:
        row = []
        for result in results:
            prompt = next((prompt for prompt in result.prompts if prompt.key == key), None)
            row.append("  - " if prompt is None else f"{prompt.wer:4.0%}")
        lines.append(f"   {key:<32} {' | '.join(row)}")
    return "\n".join(lines)


def prompt_report_json(results: list[VariantResult], settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "settings": settings,
        "variants": [
            {
                "name": result.variant.name,
                "settings": dict(result.variant.settings),
                "wer": None if result.wer is None else round(result.wer, 4),
                "found": None if result.found is None else round(result.found, 4),
                "exact": result.exact,
                "prompts": [dataclasses.asdict(prompt) for prompt in result.prompts],
                "seconds": round(result.seconds, 1),
                "error": result.error,
            }
            for result in results
        ],
    }
