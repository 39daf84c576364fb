"""End-to-end harness: the five services as processes (speech replaced by a scripted fake, or real),
real RabbitMQ and Redis, the visitor and PBX simulators."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, fields
from pathlib import Path

import pytest
import pytest_asyncio

from porteiro_sim.call import CallResult, candidate_matcher, delete_queue_async, run_call
from porteiro_sim.metrics import scrape, value
from porteiro_sim.pbx import Pbx, PbxSettings, Resident
from porteiro_sim.scenarios import SCENARIOS, Scenario, caller_lines
from porteiro_sim.script import LegRecord
from porteiro_sim.sentences import SentenceMatcher
from porteiro_sim.speech import EspeakVoice, SpeechServiceVoice, Voice
from porteiro_sim.stack import Stack, StackConfig
from porteiro_sim.timeline import format_timeline
from porteiro_sim.visitor import place_call
from tests.e2e.fake_speech import FakeSpeechServer

REDIS_URL = "redis://127.0.0.1:6379/0"
# The scripted speech service talks fast: calls take half the time, recognition does not care.
FAST_SPEECH_WPM = 300

# Short timers so a whole call takes seconds (functional bounds, not performance targets).
FAST_ENV = {
    "concierge": {
        "PORTEIRO_CONCIERGE_RESIDENT_CONNECT_TIMEOUT_SECONDS": "3",
        "PORTEIRO_CONCIERGE_RESIDENT_REPLY_TIMEOUT_SECONDS": "5",
        "PORTEIRO_CONCIERGE_VISITOR_REPLY_TIMEOUT_SECONDS": "8",
        # The scripted calls here say their name after "Entrega." (a setting; the default, the
        # name asked of visitors only, is what make demo and make eval run).
        "PORTEIRO_CONCIERGE_ASK_VISITOR_NAME": "always",
    },
    "gateway": {"PORTEIRO_GATEWAY_END_OF_SPEECH_SILENCE_MS": "500"},
}


@dataclass
class E2E:
    """A running stack and what a test needs to place calls on it."""

    stack: Stack
    voice: Voice
    matcher: SentenceMatcher
    queue: str
    fake_speech: FakeSpeechServer | None = None
    amqp_url: str | None = None

    async def call(self, scenario: Scenario | str, **options) -> CallResult:
        chosen = SCENARIOS[scenario] if isinstance(scenario, str) else scenario
        if self.fake_speech is not None:
            await self.fake_speech.servicer.register_lines(caller_lines(chosen))
        return await run_call(
            chosen,
            visitor_port=self.stack.visitor_port,
            resident_port=self.stack.resident_port,
            voice=self.voice,
            matcher=self.matcher,
            queue=self.queue,
            ring_seconds=0.3,
            final_timeout=40.0,
            **options,
        )

    async def call_with_steps(self, scenario: Scenario, visitor_steps: list) -> CallResult:
        """A scenario's resident and PBX, with the visitor's steps replaced."""
        return await self.call(replace_visitor(scenario, visitor_steps))

    async def start_pbx(self, resident: Resident, scenario: Scenario = SCENARIOS["delivery"]) -> Pbx:
        """The PBX simulator with `resident` behind it; the fake speech knows `scenario`'s caller lines."""
        await self.fake_speech.servicer.register_lines(caller_lines(scenario))
        settings = PbxSettings(
            queue=self.queue,
            resident_host="127.0.0.1",
            resident_port=self.stack.resident_port,
            ring_seconds=resident.ring_seconds,
        )
        pbx = Pbx(settings, resident, self.voice, matcher=self.matcher)
        await pbx.start()
        return pbx

    async def call_with_pbx(
        self,
        visitor_steps: list,
        resident: Resident,
        scenario: Scenario = SCENARIOS["delivery"],
        events: dict[str, asyncio.Event] | None = None,
    ) -> tuple[LegRecord, Pbx]:
        """One call: `visitor_steps` on the visitor port, `resident` behind the PBX simulator
        (sharing the test's `events`); returns the visitor's record and the PBX once it is idle."""
        pbx = await self.start_pbx(resident, scenario)
        pbx.events.update(events or {})
        try:
            visitor = await place_call(
                "127.0.0.1",
                self.stack.visitor_port,
                visitor_steps,
                self.voice,
                events=pbx.events,
                matcher=self.matcher,
            )
            await pbx.wait_idle(30.0)
        finally:
            await pbx.stop()
        return visitor, pbx

    def explain_leg(self, record) -> str:
        logs = "\n".join(f"--- {s.name}\n{s.logs(3000)}" for s in self.stack.services)
        return f"\n{format_timeline([record])}\nheard: {record.heard_keys}\n{logs}"

    def outcomes(self, outcome: str) -> float:
        return sum(
            value(scrape(c.metrics_url), "porteiro_concierge_call_outcomes_total", outcome=outcome)
            for c in self.stack.concierges
            if c.running
        )

    def explain(self, result: CallResult) -> str:
        """Everything needed to understand a failed call."""
        logs = "\n".join(f"--- {s.name}\n{s.logs(3000)}" for s in self.stack.services)
        problems = [f"{leg.role}: {leg.timed_out} {leg.error}" for leg in result.legs]
        return (
            f"\n{format_timeline(result.legs)}\nheard: {result.visitor.heard_keys}\n"
            f"problems: {problems}\ncommands: {len(result.commands)}\n{logs}"
        )


def replace_visitor(scenario: Scenario, steps: list) -> Scenario:
    class Custom(type(scenario)):
        def visitor_steps(self, final_timeout: float = 90.0) -> list:
            return steps

    return Custom(**{f.name: getattr(scenario, f.name) for f in fields(scenario)})


async def start_e2e(
    tmp: Path,
    *,
    fake: bool = True,
    redis: bool = False,
    concierges: int = 1,
    amqp_url: str | None = None,
    env: dict | None = None,
) -> E2E:
    voice: Voice = EspeakVoice(words_per_minute=FAST_SPEECH_WPM)
    fake_speech = FakeSpeechServer(voice) if fake else None
    if fake_speech is not None:
        await fake_speech.start()
    queue = f"porteiro-e2e-{uuid.uuid4().hex[:8]}"
    config = StackConfig(
        tmp,
        queue=queue,
        amqp_url=amqp_url,
        redis_url=REDIS_URL if redis else None,
        speech_target=fake_speech.target if fake_speech else None,
        span_file=tmp / "spans.jsonl",
        concierges=concierges,
        env={**FAST_ENV, **(env or {})},
    )
    stack = Stack(config)
    await stack.start(wait_seconds=180.0)
    if not fake:
        voice = SpeechServiceVoice(stack.speech_target)  # the real synthesizer speaks for the callers too
    matcher = await candidate_matcher(voice)
    if fake_speech is not None:
        fake_speech.servicer.listeners.append(matcher)
    return E2E(stack, voice, matcher, queue, fake_speech, amqp_url)


async def stop_e2e(e2e: E2E) -> None:
    await e2e.stack.stop()
    if e2e.fake_speech is not None:
        await e2e.fake_speech.stop()
    await delete_queue_async(e2e.queue)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shared_e2e(tmp_path_factory):
    """One stack with the scripted recogniser for the call-flow tests of a module."""
    e2e = await start_e2e(tmp_path_factory.mktemp("e2e"))
    yield e2e
    await stop_e2e(e2e)


@pytest.fixture
def e2e_dir(tmp_path) -> Path:
    return tmp_path
