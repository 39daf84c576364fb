"""One evaluation call: a persona's visitor on the visitor port, their resident through the PBX simulator.

The visitor answers whatever the system asks (phrasing.Phrasebook), identifying each
sentence on the wire (hearing.py) or, optionally, failing that, by its transcript
(questions.PromptGuesser). One PBX simulator serves every call of a run: each
click-to-call command is answered by the resident of the persona whose session it names.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from porteiro_common.prompts import load_prompts
from porteiro_sim.audiosocket_client import AudioSocketClient
from porteiro_sim.evaluation.hearing import Beginning, build_reply_matcher
from porteiro_sim.evaluation.personas import NO, Persona, Target
from porteiro_sim.evaluation.phrasing import (
    DECISION,
    Phrasebook,
    Utterance,
    decision_keys,
    decision_line,
)
from porteiro_sim.evaluation.questions import PromptGuesser, reply_question
from porteiro_sim.pbx import ClickToCall, Pbx, PbxSettings, Resident
from porteiro_sim.scenarios import RESIDENT_ENDINGS, VISITOR_OUTCOMES
from porteiro_sim.script import (
    AwaitHangUp,
    AwaitReply,
    CallerTurn,
    Converse,
    Keys,
    LegRecord,
    ScriptRunner,
    Speak,
)
from porteiro_sim.sentences import Sentence, SentenceMatcher, prompt_sentences
from porteiro_sim.speech import Recogniser, Voice
from porteiro_sim.visitor import place_call

GUESSED_MARK = "[guessed:"  # ends the text of a reply known only from its transcript


@dataclass
class SaidLine:
    """A line the caller said or keyed, the question it answered, and the turn it made."""

    utterance: Utterance
    question: str
    turn: CallerTurn


@dataclass
class ResidentPlan:
    persona: Persona
    voice: Voice
    matcher: SentenceMatcher
    right_destination: str
    said: dict[str, Utterance] = field(default_factory=dict)  # line text -> utterance (for scoring)

    def steps(self, destination: str) -> list:
        """The persona's resident answers; a wrong resident (another destination) does not know the visitor."""
        line = decision_line(self.persona) if destination == self.right_destination else _stranger()
        keys = decision_keys(self.persona) if destination == self.right_destination else Utterance("#2")
        self.said[line.text] = line
        answers = {
            "resident_brief_delivery": line.text,
            "resident_brief_visit": line.text,
            "resident_ask_again": keys.text,
            "resident_reprompt_silence": keys.text,
        }
        return [Converse(answers, RESIDENT_ENDINGS, default=line.text, timeout=30.0), AwaitHangUp(10.0)]


def _stranger() -> Utterance:
    return Utterance("Não, não conheço.", {DECISION: ("nao",)}, f"decision:{NO}:wrong resident")


class PersonaPbx(Pbx):
    """The PBX simulator for a whole run: the resident who answers depends on the session called."""

    def __init__(self, settings: PbxSettings, ring_seconds: float) -> None:
        super().__init__(settings, Resident([], ring_seconds=ring_seconds), None)
        self.plans: dict[str, ResidentPlan] = {}

    async def _ring(self, command: ClickToCall) -> None:
        plan = self.plans.get(command.guid)
        if plan is None:
            return  # not a call of this run
        await asyncio.sleep(self.resident.ring_seconds)
        record = await place_call(
            self.settings.resident_host,
            self.settings.resident_port,
            plan.steps(command.origin),
            plan.voice,
            role="resident",
            session_id=command.guid,
            events=self.events,
            matcher=plan.matcher,
        )
        self.legs.append(record)


@dataclass(frozen=True)
class Dialogue:
    """Answer every question until an outcome sentence (or the line closes)."""

    max_replies: int = 16
    timeout: float = 40.0


class VisitorRunner(ScriptRunner):
    """The visitor of one persona: identifies each reply and answers it with the phrasebook."""

    def __init__(
        self,
        record: LegRecord,
        voice: Voice,
        matcher: SentenceMatcher,
        phrasebook: Phrasebook,
        guesser: PromptGuesser,
        recogniser: Recogniser | None,
    ) -> None:
        super().__init__(record, voice, None, matcher)
        self.phrasebook, self.guesser, self.recogniser = phrasebook, guesser, recogniser
        self.said: list[SaidLine] = []
        self.identified: list[str] = []  # prompt keys identified from their exact audio
        # (transcript, prompt keys guessed) of each reply its audio did not identify ("", [] untranscribed)
        self.guessed: list[tuple[str, list[str]]] = []

    async def _do(self, step) -> None:  # type: ignore[no-untyped-def]
        if isinstance(step, Dialogue):
            await self._dialogue(step)
        else:
            await super()._do(step)

    async def _dialogue(self, step: Dialogue) -> None:
        for _ in range(step.max_replies):
            seen = len(self.client.segments)
            await self._await_reply(AwaitReply(step.timeout))
            if len(self.client.segments) == seen:
                return  # nothing more was said (timeout or hang-up)
            keys = self.identify_new(seen)
            guesses = [] if keys else await self._guess(seen)
            keys = keys or [key for _, guessed in guesses for key in guessed]
            if any(key in VISITOR_OUTCOMES for key in keys) or self.client.closed:
                return
            question = reply_question(keys, " ".join(transcript for transcript, _ in guesses), self.guesser)
            heard = " ".join(
                self.record.replies.get(index, "") for index in range(seen, len(self.client.segments))
            )
            utterance = self.phrasebook.answer(question, heard) if question else None
            if utterance is not None:
                await self._say(utterance, question or "")

    def identify_new(self, first_index: int) -> list[str]:
        keys = super().identify_new(first_index)
        self.identified.extend(keys)
        return keys

    async def _guess(self, first_index: int) -> list[tuple[str, list[str]]]:
        """The replies the audio did not identify: their transcripts ("" without a recogniser) and
        the prompts guessed from their words."""
        guesses: list[tuple[str, list[str]]] = []
        for index in range(first_index, len(self.client.segments)):
            if index in self.record.replies:
                continue
            transcript = await self._transcribe(index)
            guessed = self.guesser.keys_of(transcript) if transcript else []
            if self.recogniser is not None:
                self.record.replies[index] = f"{transcript} {GUESSED_MARK} {', '.join(guessed) or '?'}]"
            guesses.append((transcript, guessed))
            self.record.heard_keys.extend(guessed)
        self.guessed += guesses
        return guesses

    async def _transcribe(self, index: int) -> str:
        if self.recogniser is None:
            return ""
        try:
            return await self.recogniser.transcribe(self.client.segments[index].pcm)
        except Exception as error:  # the recogniser failing must not end the call
            return f"<not recognised: {type(error).__name__}>"

    async def _say(self, utterance: Utterance, question: str) -> None:
        await self._do(Keys(utterance.text[1:]) if utterance.keyed else Speak(utterance.text))
        self.said.append(SaidLine(utterance, question, self.record.turns[-1]))


@dataclass
class CallRecord:
    """Everything one call left: for scoring and for the JSON report."""

    persona: Persona
    visitor: LegRecord
    said: list[SaidLine]
    guessed: list[tuple[str, list[str]]]
    identified: list[str]  # the visitor's replies identified from their exact audio (prompt keys)
    plan: ResidentPlan
    residents: list[LegRecord] = field(default_factory=list)
    commands: list[ClickToCall] = field(default_factory=list)
    wall_offset: float = 0.0  # time.time() - time.monotonic() during the call (aligns spans)
    seconds: float = 0.0
    matcher_seconds: float = 0.0  # synthesizing the sentences the caller knows, before the call

    @property
    def session_id(self) -> str:
        return self.visitor.client.session_id

    @property
    def visitor_outcome(self) -> str | None:
        return next((key for key in reversed(self.visitor.heard_keys) if key in VISITOR_OUTCOMES), None)


# Prompts the concierge may fill with any resident of the directory, whoever the visitor came
# for: the confirmation of a reading it is unsure of ("Eduardo Almeida, do 402?", "Apartamento
# 402?" for a visitor of 401) and the outcomes naming whom the visit was for ("Eduardo Almeida
# autorizou a sua entrada."). Prompts filled with the visitor's name are left to the persona.
DIRECTORY_PROMPTS = frozenset(
    {
        "confirm_resident",
        "confirm_resident_delivery",
        "confirm_resident_visit",
        "confirm_apartment",
        *VISITOR_OUTCOMES,
    }
)


def directory_sentences(
    targets: list[Target], apartments: list[str] | None = None, prompts_file: str | None = None
) -> list[Sentence]:
    """`DIRECTORY_PROMPTS` with placeholders, filled with each resident and apartment of the directory.

    As the concierge fills them (core/confirming.py): a resident's full name with their apartment's
    number as the directory file has it (never the block or tower), and an apartment alone with
    anything it may read as one (`apartments`: personas.spoken_apartments; the residents'
    apartments when not given).
    """
    prompts = load_prompts(prompts_file)
    keys = {key for key in DIRECTORY_PROMPTS if "{" in prompts.get(key, "")}
    fillings = [{"resident_name": target.resident, "apartment": target.apartment} for target in targets]
    fillings += [{"apartment": number} for number in apartments or []]
    sentences: dict[str, Sentence] = {}
    for values in fillings:
        for sentence in prompt_sentences(values, prompts_file):
            if sentence.key in keys:
                sentences.setdefault(sentence.text, sentence)
    return list(sentences.values())


@dataclass
class CallEnvironment:
    """What every call of a run shares."""

    host: str
    visitor_port: int
    system_voice: Voice  # the speech service's voice: what the system's sentences sound like
    recogniser: Recogniser | None
    guesser: PromptGuesser
    pbx: PersonaPbx
    targets: list[Target]  # every resident of the directory file
    beginnings: list[Beginning]  # the prompts known by their fixed beginning
    prompts_file: str | None = None
    apartments: list[str] = field(default_factory=list)  # what the concierge may confirm as an apartment

    @cached_property
    def directory_sentences(self) -> list[Sentence]:
        return directory_sentences(self.targets, self.apartments, self.prompts_file)


async def persona_matcher(env: CallEnvironment, persona: Persona) -> SentenceMatcher:
    """The prompts filled with this persona's values, as the system says them.

    Also filled without the visitor's name, and with each resident sharing the target's
    phone (a typed apartment calls its first resident); the confirmations and outcomes that name
    anyone of the directory (`directory_sentences`: the same for every persona, so synthesized once
    per run); anything else is known by its beginning (hearing.py).
    """
    prompts = load_prompts(env.prompts_file)
    target = persona.target
    values = {"visitor_name": persona.visitor_name, "apartment": target.apartment}
    housemates = [other.resident for other in env.targets if other.destination == target.destination]
    unknown = (
        prompts.get("unknown_visitor", "Um visitante"),
        prompts.get("unknown_courier", "Um entregador"),
    )
    sentences = []
    for resident in dict.fromkeys([target.resident, *housemates]):
        for visitor in (persona.visitor_name, *unknown):
            filled = {**values, "resident_name": resident, "visitor_name": visitor}
            sentences += prompt_sentences(filled, env.prompts_file)
    sentences += env.directory_sentences
    return await build_reply_matcher(env.system_voice, sentences, env.beginnings)


async def run_persona_call(
    env: CallEnvironment, persona: Persona, visitor_voice: Voice, resident_voice: Voice
) -> CallRecord:
    began = time.monotonic()
    matcher = await persona_matcher(env, persona)
    matcher_seconds = time.monotonic() - began
    client = AudioSocketClient(env.host, env.visitor_port, reply_end_silence=0.8)
    record = LegRecord("visitor", client)
    plan = ResidentPlan(persona, resident_voice, matcher, persona.target.destination)
    env.pbx.plans[client.session_id] = plan
    phrasebook = Phrasebook(persona, tuple(target.resident for target in env.targets))
    runner = VisitorRunner(record, visitor_voice, matcher, phrasebook, env.guesser, env.recogniser)
    started, wall_offset = time.monotonic(), time.time() - time.monotonic()
    try:
        await client.connect()
        steps: list[Any] = [Dialogue(), AwaitHangUp(15.0)]  # Dialogue is this runner's own step
        await runner.run(steps)
    except OSError as error:
        record.error = f"cannot connect to {env.host}:{env.visitor_port}: {error}"
    finally:
        await client.close()
    await _wait_resident_legs(env.pbx, client.session_id)
    env.pbx.plans.pop(client.session_id, None)
    return CallRecord(
        persona,
        record,
        runner.said,
        runner.guessed,
        runner.identified,
        plan,
        [leg for leg in env.pbx.legs if leg.client.session_id == client.session_id],
        [command for command in env.pbx.commands if command.guid == client.session_id],
        wall_offset,
        time.monotonic() - started,
        matcher_seconds,
    )


async def _wait_resident_legs(pbx: PersonaPbx, session_id: str, wait_seconds: float = 30.0) -> None:
    """Resident legs of this session still on the line finish (they end with the call)."""
    await pbx.wait_idle(wait_seconds)
