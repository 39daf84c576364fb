"""One whole call: the visitor simulator on the visitor port, the PBX simulator on the queue."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import pika
from pika.exceptions import AMQPError

from porteiro_sim.pbx import ClickToCall, Pbx, PbxSettings, Resident
from porteiro_sim.scenarios import VALUES, Scenario
from porteiro_sim.script import LegRecord
from porteiro_sim.sentences import SentenceMatcher, build_matcher, prompt_sentences
from porteiro_sim.speech import Voice
from porteiro_sim.visitor import place_call


@dataclass
class CallResult:
    scenario: Scenario
    visitor: LegRecord
    residents: list[LegRecord] = field(default_factory=list)
    commands: list[ClickToCall] = field(default_factory=list)

    @property
    def session_id(self) -> str:
        return self.visitor.client.session_id

    @property
    def legs(self) -> list[LegRecord]:
        return [self.visitor, *self.residents]

    @property
    def visitor_outcome(self) -> str | None:
        """The last outcome sentence the visitor heard (prompt key)."""
        from porteiro_sim.scenarios import VISITOR_OUTCOMES

        return next((key for key in reversed(self.visitor.heard_keys) if key in VISITOR_OUTCOMES), None)

    @property
    def succeeded(self) -> bool:
        if self.scenario.visitor_hangs_up_when_ringing:
            return bool(self.commands) and self.visitor.client.close_reason == "local"
        return self.visitor_outcome == self.scenario.expected_visitor_outcome and self.visitor.client.closed


async def candidate_matcher(voice: Voice, prompts_file: str | None = None) -> SentenceMatcher:
    """Every prompt, filled with the sample values, synthesized by `voice` (the system's voice)."""
    return await build_matcher(voice, prompt_sentences(VALUES, prompts_file))


async def run_call(
    scenario: Scenario,
    *,
    visitor_port: int,
    resident_port: int,
    voice: Voice,
    matcher: SentenceMatcher,
    queue: str,
    amqp_url: str | None = None,
    ring_seconds: float = 1.0,
    host: str = "127.0.0.1",
    final_timeout: float = 90.0,
    session_id: str | None = None,
) -> CallResult:
    settings = PbxSettings(
        queue=queue,
        resident_host=host,
        resident_port=resident_port,
        ring_seconds=ring_seconds,
        **({"amqp_url": amqp_url} if amqp_url else {}),
    )
    attempts = None if scenario.answer_attempts is None else set(scenario.answer_attempts)
    resident = Resident(scenario.resident_steps(), attempts, ring_seconds)
    pbx = Pbx(settings, resident, voice, matcher=matcher)
    await pbx.start()
    try:
        visitor = await place_call(
            host,
            visitor_port,
            scenario.visitor_steps(final_timeout),
            voice,
            events=pbx.events,
            matcher=matcher,
            session_id=session_id,
        )
        await pbx.wait_idle(30.0)
    finally:
        await pbx.stop()
    return CallResult(scenario, visitor, list(pbx.legs), list(pbx.commands))


def delete_queue(queue: str, amqp_url: str | None = None) -> None:
    """Remove a per-run queue (blocking; run it in a thread)."""
    url = amqp_url or PbxSettings().amqp_url
    with contextlib.suppress(AMQPError, OSError):
        connection = pika.BlockingConnection(pika.URLParameters(url))
        connection.channel().queue_delete(queue)
        connection.close()


async def delete_queue_async(queue: str, amqp_url: str | None = None) -> None:
    await asyncio.to_thread(delete_queue, queue, amqp_url)
