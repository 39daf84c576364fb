"""The PBX simulator: takes click-to-call commands from RabbitMQ and bridges a scripted resident.

A real PBX originates a call to `data.origin` and, when the resident answers,
connects that call to Porteiro's resident port with AudioSocket UUID = `data.guid`.
This simulator rings for a while (or never answers), then does the same with a
scripted resident. A cancel (`operation.type` "cancelclicktocall", `operation.guid`
the command's id) stops a command that is still ringing: it is never answered.

    python -m porteiro_sim.pbx --say "Sim, pode subir."      # answers every command
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pika
from pika.exceptions import AMQPError, ChannelClosedByBroker
from pydantic_settings import BaseSettings, SettingsConfigDict

from porteiro_sim.script import AwaitHangUp, AwaitReply, Keys, LegRecord, Speak, Step
from porteiro_sim.sentences import SentenceMatcher
from porteiro_sim.speech import Voice
from porteiro_sim.visitor import build_voice, place_call

log = logging.getLogger(__name__)


class PbxSettings(BaseSettings):
    """Environment prefix ``PORTEIRO_SIM_PBX_``."""

    model_config = SettingsConfigDict(env_prefix="PORTEIRO_SIM_PBX_", extra="ignore")

    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"  # the local broker's default account
    queue: str = "voip1-in"
    resident_host: str = "127.0.0.1"
    resident_port: int = 8081
    ring_seconds: float = 1.0


CLICKTOCALL = "clicktocall"
CANCEL = "cancelclicktocall"


@dataclass(frozen=True)
class Cancel:
    """A cancel of the click-to-call whose `operation.guid` is `command_id`."""

    guid: str
    command_id: str
    received_at: float

    @classmethod
    def parse(cls, body: bytes) -> Cancel:
        payload = json.loads(body)
        operation = payload["operation"]
        if operation.get("type") != CANCEL or not operation.get("guid"):
            raise ValueError(f"not a cancel: {operation.get('type')!r}")
        return cls(str(payload["data"]["guid"]), str(operation["guid"]), time.monotonic())


def is_cancel(body: bytes) -> bool:
    try:
        payload = json.loads(body)
        return isinstance(payload, dict) and payload.get("operation", {}).get("type") == CANCEL
    except (ValueError, AttributeError):
        return False


@dataclass(frozen=True)
class ClickToCall:
    guid: str  # the visitor session's AudioSocket UUID
    origin: str  # whom to call
    command_id: str
    raw: dict
    received_at: float

    @classmethod
    def parse(cls, body: bytes) -> ClickToCall:
        payload = json.loads(body)
        data, operation = payload["data"], payload.get("operation", {})
        if operation.get("type", CLICKTOCALL) != CLICKTOCALL:
            raise ValueError(f"not a click-to-call command: {operation.get('type')!r}")
        return cls(
            str(data["guid"]), str(data["origin"]), str(operation.get("guid", "")), payload, time.monotonic()
        )


@dataclass
class Resident:
    """How the resident behaves: which attempts they answer, after how long, and what they do."""

    steps: list[Step]
    answer_attempts: set[int] | None = None  # None = every attempt; empty set = never answers
    ring_seconds: float = 1.0

    def answers(self, attempt: int) -> bool:
        return self.answer_attempts is None or attempt in self.answer_attempts


def resident_says(*lines: str, final_timeout: float = 30.0) -> list[Step]:
    """Listen to the briefing, answer each line (a "#1" line presses keys), wait for the hang-up."""
    steps: list[Step] = [AwaitReply()]
    for index, line in enumerate(lines):
        steps.append(Keys(line[1:]) if line.startswith("#") else Speak(line))
        if index < len(lines) - 1:
            steps.append(AwaitReply())
    steps.append(AwaitHangUp(final_timeout))
    return steps


@dataclass
class Pbx:
    """Consumes the click-to-call queue and runs one resident leg per answered command."""

    settings: PbxSettings
    resident: Resident
    voice: Voice | None
    events: dict[str, asyncio.Event] = field(default_factory=dict)
    commands: list[ClickToCall] = field(default_factory=list)
    legs: list[LegRecord] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    cancels: list[Cancel] = field(default_factory=list)
    # Command ids whose cancel arrived while they were still ringing (so they were never answered).
    cancelled_while_ringing: list[str] = field(default_factory=list)
    on_leg: Callable[[LegRecord], None] | None = None
    matcher: SentenceMatcher | None = None

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task] = set()
        self._attempts: dict[str, int] = {}
        self._ready = threading.Event()
        self._consumer_error: str | None = None

    async def start(self, wait_seconds: float = 10.0) -> None:
        """Start consuming; returns once the queue is being consumed."""
        loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._consume, args=(loop,), name="pbx-consumer", daemon=True)
        self._thread.start()
        if not await asyncio.to_thread(self._ready.wait, wait_seconds) or self._consumer_error:
            raise ConnectionError(f"PBX cannot consume {self.settings.queue}: {self._consumer_error}")

    async def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5.0)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def wait_idle(self, wait_seconds: float = 60.0) -> None:
        """Wait until every resident leg in progress has finished."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*list(self._tasks), return_exceptions=True), wait_seconds)

    # ---- AMQP side (its own thread: pika's BlockingConnection) -----------

    def _consume(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            connection = pika.BlockingConnection(pika.URLParameters(self.settings.amqp_url))
            channel = self._declare(connection)
        except AMQPError as error:
            self._consumer_error = repr(error)
            self._ready.set()
            return
        self._ready.set()
        try:
            for method, _, body in channel.consume(self.settings.queue, inactivity_timeout=0.2):
                if self._stop.is_set():
                    break
                if method is None:
                    continue
                channel.basic_ack(method.delivery_tag)
                loop.call_soon_threadsafe(self._on_message, body)
        except AMQPError as error:
            log.warning("PBX consumer stopped: %r", error)
        finally:
            with contextlib.suppress(AMQPError):
                connection.close()

    def _declare(self, connection: pika.BlockingConnection):
        channel = connection.channel()
        try:
            channel.queue_declare(self.settings.queue, durable=True)
        except ChannelClosedByBroker:
            # Declared elsewhere with other arguments: just use it as it is.
            channel = connection.channel()
            channel.queue_declare(self.settings.queue, passive=True)
        channel.basic_qos(prefetch_count=10)
        return channel

    # ---- call side (event loop) ------------------------------------------

    def _on_message(self, body: bytes) -> None:
        if is_cancel(body):
            self._on_cancel(body)
            return
        try:
            command = ClickToCall.parse(body)
        except (ValueError, KeyError, TypeError) as error:
            self.rejected.append(f"{error!r}: {body[:200]!r}")
            return
        self.commands.append(command)
        self._event(f"command-{len(self.commands)}").set()
        self._event("resident-ringing").set()
        task = asyncio.get_running_loop().create_task(self._ring(command))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_cancel(self, body: bytes) -> None:
        try:
            cancel = Cancel.parse(body)
        except (ValueError, KeyError, TypeError) as error:
            self.rejected.append(f"{error!r}: {body[:200]!r}")
            return
        self.cancels.append(cancel)
        self._event(f"cancel-{len(self.cancels)}").set()
        log.info("cancel of click-to-call %s", cancel.command_id)

    def _cancelled(self, command: ClickToCall) -> bool:
        return any(cancel.command_id == command.command_id for cancel in self.cancels)

    def _event(self, name: str) -> asyncio.Event:
        return self.events.setdefault(name, asyncio.Event())

    async def _ring(self, command: ClickToCall) -> None:
        attempt = self._attempts[command.guid] = self._attempts.get(command.guid, 0) + 1
        log.info("click-to-call %s attempt %d for %s", command.command_id, attempt, command.guid)
        if not self.resident.answers(attempt):
            return
        await asyncio.sleep(self.resident.ring_seconds)
        if self._cancelled(command):  # the caller hung up on the ringing phone: nobody answers
            self.cancelled_while_ringing.append(command.command_id)
            log.info("click-to-call %s cancelled while ringing: not answered", command.command_id)
            return
        record = await place_call(
            self.settings.resident_host,
            self.settings.resident_port,
            self.resident.steps,
            self.voice,
            role="resident",
            session_id=command.guid,
            events=self.events,
            matcher=self.matcher,
        )
        self.legs.append(record)
        if self.on_leg is not None:
            self.on_leg(record)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Answer Porteiro's click-to-call commands with a scripted resident."
    )
    parser.add_argument(
        "--say",
        action="append",
        default=[],
        help='what the resident answers; "#1" presses keys (repeatable; default "Sim, pode subir.")',
    )
    parser.add_argument("--never-answer", action="store_true")
    parser.add_argument(
        "--speech-target", default=None, help="speech service host:port for the voice (else espeak-ng)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s pbx %(message)s")
    settings = PbxSettings()
    resident = Resident(
        resident_says(*(args.say or ["Sim, pode subir."])),
        set() if args.never_answer else None,
        settings.ring_seconds,
    )

    async def run() -> None:
        pbx = Pbx(settings, resident, build_voice(args.speech_target, None))
        await pbx.start()
        print(
            f"PBX simulator consuming {settings.queue}; resident port "
            f"{settings.resident_host}:{settings.resident_port}. Ctrl-C stops."
        )
        try:
            await asyncio.Event().wait()
        finally:
            await pbx.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
