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
from typing import Any

from porteiro_common.prompts import load_prompts
from porteiro_sim.audiosocket_client import AudioSocketClient
from porteiro_sim.evaluation.hearing import Beginning, build_reply_matcher
from porteiro_sim.evaluation.personas import NO, Persona, Target
from porteiro_sim.evaluation.phrasing import (
    DECISION,
    REPEAT,
    Phrasebook,
    Utterance,
    decision_keys,
    decision_line,
)
from porteiro_sim.evaluation.questions import PromptGuesser, visitor_question
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
from porteiro_sim.sentences import SentenceMatcher, prompt_sentences
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
        self.guessed: list[tuple[str, list[str]]] = []  # (transcript, prompt keys) of unidentified replies

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
            keys = self.identify_new(seen) or await self._guess(seen)
            if any(key in VISITOR_OUTCOMES for key in keys) or self.client.closed:
                return
            # A reply not identified at all: say the last answer again, as a caller not sure what was asked.
            question = visitor_question(keys, self.guesser.prompts) if keys else REPEAT
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

    async def _guess(self, first_index: int) -> list[str]:
        """Transcribe the replies the audio did not identify; guess their prompts from the words."""
        if self.recogniser is None:
            return []
        keys: list[str] = []
        for index in range(first_index, len(self.client.segments)):
            if index in self.record.replies:
                continue
            try:
                transcript = await self.recogniser.transcribe(self.client.segments[index].pcm)
            except Exception as error:  # the recogniser failing must not end the call
                transcript = f"<not recognised: {type(error).__name__}>"
            guessed = self.guesser.keys_of(transcript)
            self.record.replies[index] = f"{transcript} {GUESSED_MARK} {', '.join(guessed) or '?'}]"
            self.guessed.append((transcript, guessed))
            keys += guessed
        self.record.heard_keys.extend(keys)
        return keys

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

    @property
    def session_id(self) -> str:
        return self.visitor.client.session_id

    @property
    def visitor_outcome(self) -> str | None:
        return next((key for key in reversed(self.visitor.heard_keys) if key in VISITOR_OUTCOMES), None)


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


async def persona_matcher(env: CallEnvironment, persona: Persona) -> SentenceMatcher:
    """The prompts filled with this persona's values, as the system says them.

    Also filled without the visitor's name, and with each resident sharing the target's
    phone (a typed apartment calls its first resident); anything else is known by its
    beginning (hearing.py).
    """
    prompts = load_prompts(env.prompts_file)
    target = persona.target
    values = {"visitor_name": persona.visitor_name, "apartment": target.apartment}
    housemates = [other.resident for other in env.targets if other.destination == target.destination]
    sentences = []
    for resident in dict.fromkeys([target.resident, *housemates]):
        for visitor in (persona.visitor_name, prompts.get("unknown_visitor", "Um visitante")):
            filled = {**values, "resident_name": resident, "visitor_name": visitor}
            sentences += prompt_sentences(filled, env.prompts_file)
    return await build_reply_matcher(env.system_voice, sentences, env.beginnings)


async def run_persona_call(
    env: CallEnvironment, persona: Persona, visitor_voice: Voice, resident_voice: Voice
) -> CallRecord:
    matcher = await persona_matcher(env, persona)
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
    )


async def _wait_resident_legs(pbx: PersonaPbx, session_id: str, wait_seconds: float = 30.0) -> None:
    """Resident legs of this session still on the line finish (they end with the call)."""
    await pbx.wait_idle(wait_seconds)
