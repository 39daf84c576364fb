"""Many condominiums in one concierge: each call is served by its condominium's own engine.

A condominium (tenant, `porteiro_common.tenants`) gets its own `CallEngine`:
its sentences (name and overrides) and voice in the conversation, its
directory (every directory request names it, so the hint vocabulary and the
matching are its own), its PBX settings (the dialer's PlaceCall names it) and
its `condominium` metric label. The session store, the register publisher and
the settings are shared.

`TenantCalls.dispatch` is what a leg calls instead of one engine's: a new
visitor leg is routed by the condominium the gateway put in LegStarted (else
the code in its UUID, or the single `default` tenant); every later event by
the condominium its session carries (remembered per session id, read from the
store once after a restart or on another replica).

Without `PORTEIRO_CONCIERGE_TENANTS_DIR` there is one tenant, `default`, built
from PROMPTS_FILE: the single-condominium deployment is unchanged.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from opentelemetry import trace

from porteiro.dialer.v1 import dialer_pb2
from porteiro.directory.v1 import directory_pb2
from porteiro_common.tenants import (
    DEFAULT_CONDOMINIUM,
    Condominium,
    CondominiumLabels,
    Tenant,
    TenantRegistry,
    condominium_for_session,
)
from porteiro_concierge.core import Conversation, Rules
from porteiro_concierge.core.effects import Handled
from porteiro_concierge.core.events import Event, VisitorStarted
from porteiro_concierge.dependencies import DialerClient, DirectoryClient
from porteiro_concierge.engine import CallEngine, Dispatched
from porteiro_concierge.hints import Vocabulary
from porteiro_concierge.prompts import Prompts
from porteiro_concierge.session import FailureReason, Session
from porteiro_concierge.store import SessionStore

log = logging.getLogger(__name__)

SPAN_ATTRIBUTE = "porteiro.condominium"
# Session id -> the condominium (and its engine) serving it, remembered by this process: a call's
# condominium never changes, and a call keeps its engine when its condominium leaves the folder.
REMEMBERED_SESSIONS = 10_000


class UnknownCondominium(LookupError):
    """A call for a condominium this concierge does not serve (the gateway refuses these first)."""


def directory_id(condominium_id: str) -> str:
    """What directory requests carry: "" for `default` (the directory's own default tenant)."""
    return "" if condominium_id == DEFAULT_CONDOMINIUM else condominium_id


class CondominiumDirectory:
    """The directory client as one condominium sees it: every request names the condominium."""

    def __init__(self, client: DirectoryClient, condominium_id: str) -> None:
        self.client = client
        self.condominium = directory_id(condominium_id)

    async def resolve(self, apartment: str, resident_name: str) -> directory_pb2.ResolveResponse:
        return await self.client.resolve(apartment, resident_name, self.condominium)

    async def parse_apartment(self, text: str) -> directory_pb2.ParseApartmentResponse:
        return await self.client.parse_apartment(text, self.condominium)

    async def search_by_name(self, name: str, limit: int = 5) -> directory_pb2.SearchByNameResponse:
        return await self.client.search_by_name(name, limit, self.condominium)

    async def vocabulary(self) -> directory_pb2.ListVocabularyResponse:
        return await self.client.vocabulary(self.condominium)

    async def apartments(self) -> directory_pb2.ListApartmentsResponse:
        return await self.client.apartments(self.condominium)


class CondominiumDialer:
    """The dialer client as one condominium sees it: PlaceCall names the condominium (its PBX settings)."""

    def __init__(self, client: DialerClient, condominium_id: str) -> None:
        self.client = client
        self.condominium = directory_id(condominium_id)

    async def place_call(
        self, session_id: str, destination: str, attempt: int, intent: str, apartment: str
    ) -> dialer_pb2.PlaceCallResponse:
        return await self.client.place_call(
            session_id, destination, attempt, intent, apartment, self.condominium
        )

    async def cancel_call(self, session_id: str, attempt: int) -> dialer_pb2.CancelCallResponse:
        return await self.client.cancel_call(session_id, attempt)


class CondominiumConversation(Conversation):
    """One condominium's conversation: its sentences (in `rules`), its voice on every Say, and its
    id written on the sessions it starts."""

    def __init__(self, rules: Rules, condominium_id: str, voice: str | None = None) -> None:
        super().__init__(rules)
        self.condominium_id = condominium_id
        self.voice = voice or ""

    def handle(self, session: Session | None, event: Event, now: float) -> Handled:
        handled = super().handle(session, event, now)
        if handled.session is not None and not handled.session.condominium:
            handled.session.condominium = self.condominium_id
        if self.voice:
            for actions in handled.effects.actions.values():
                for action in actions:
                    if action.HasField("say") and not action.say.voice:
                        action.say.voice = self.voice
        return handled


@dataclass(frozen=True)
class CallTenant:
    """What the concierge builds for one condominium."""

    engine: CallEngine
    vocabulary: Vocabulary


class TenantCalls:
    """Routes every event of a call to its condominium's engine (what LegHandler dispatches to)."""

    def __init__(
        self,
        registry: TenantRegistry[CallTenant],
        store: SessionStore,
        labels: CondominiumLabels | None = None,
    ) -> None:
        self.registry = registry
        self.store = store
        self.labels = labels or CondominiumLabels()
        self._tenant_of: OrderedDict[str, Tenant[CallTenant]] = OrderedDict()

    async def dispatch(self, session_id: str, event: Event) -> Dispatched:
        tenant = await self._tenant_for(session_id, event)
        trace.get_current_span().set_attribute(SPAN_ATTRIBUTE, tenant.id)
        return await tenant.data.engine.dispatch(session_id, event)

    def lost(self, session_id: str, session: Session | None, reason: FailureReason) -> str:
        """A call lost to its session store (leg.py): its condominium's engine records it and
        gives the sentence its callers hear. Routed from memory only: the store is gone."""
        snapshot = self.registry.current
        tenant = self._tenant_of.get(session_id)
        if tenant is None:
            known = session.condominium if session else ""
            tenant = (snapshot.get(known) if known else None) or next(iter(snapshot.by_id.values()))
        return tenant.data.engine.lost(session_id, session, reason)

    async def _tenant_for(self, session_id: str, event: Event) -> Tenant[CallTenant]:
        snapshot = self.registry.current
        if isinstance(event, VisitorStarted):
            tenant = self._routed(session_id, event.condominium)
            if tenant is None:
                known = await self._stored_condominium(session_id)  # a visitor stream that came back
                tenant = snapshot.get(known) if known else None
        elif session_id in self._tenant_of:  # a call in progress here: its engine, even if the
            tenant = self._tenant_of[session_id]  # condominium left the folder since it started
        else:
            known = await self._stored_condominium(session_id)
            tenant = snapshot.get(known) if known else self._routed(session_id, "")
            if tenant is None and not known:  # no such call: any engine answers "unknown call"
                tenant = next(iter(snapshot.by_id.values()), None)
        if tenant is None:
            raise UnknownCondominium(f"call {session_id}: no condominium served here for it")
        self._remember(session_id, tenant)
        return tenant

    def _routed(self, session_id: str, condominium_id: str) -> Tenant[CallTenant] | None:
        """The gateway's choice when it made one; else the code in the UUID (or `default`)."""
        if condominium_id:
            return self.registry.current.get(condominium_id)
        return condominium_for_session(session_id, self.registry)

    async def _stored_condominium(self, session_id: str) -> str:
        session = await self.store.load(session_id)
        if session is None:
            return ""
        return session.condominium or DEFAULT_CONDOMINIUM  # a session stored before tenants

    def _remember(self, session_id: str, tenant: Tenant[CallTenant]) -> None:
        self._tenant_of[session_id] = tenant
        self._tenant_of.move_to_end(session_id)
        while len(self._tenant_of) > REMEMBERED_SESSIONS:
            self._tenant_of.popitem(last=False)


def tenant_builder(
    make_engine: Callable[[Condominium, Conversation, Vocabulary], CallEngine],
    rules_for: Callable[[Prompts, Vocabulary], Rules],
    directory: DirectoryClient,
    labels: CondominiumLabels,
) -> Callable[[Condominium], CallTenant]:
    """The registry's `build`: a condominium's conversation, vocabulary and engine."""

    def build(condominium: Condominium) -> CallTenant:
        vocabulary = Vocabulary(CondominiumDirectory(directory, condominium.id))
        prompts = Prompts.from_sentences(condominium.prompts)
        conversation = CondominiumConversation(
            rules_for(prompts, vocabulary), condominium.id, condominium.voice
        )
        engine = make_engine(condominium, conversation, vocabulary)
        engine.condominium_label = labels(condominium.id)
        log.info("condominium %s ready (%s)", condominium.id, condominium.name)
        return CallTenant(engine, vocabulary)

    return build
