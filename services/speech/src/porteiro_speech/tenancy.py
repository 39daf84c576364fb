"""Many condominiums in the speech service: each one's voice checked, its sentences warmed.

The synthesis cache is keyed by (text, voice, sample rate). That already keeps
condominiums apart where they differ: a sentence with a condominium's name, or
said in its voice, is its own entry; the same sentence in the same voice is the
same audio whichever condominium asks, so it is synthesized and stored once.
No condominium key is needed.

With `PORTEIRO_SPEECH_TENANTS_DIR` (the folder every service reads,
porteiro_common.tenants) each condominium's `voice` is checked against the
voices this synthesizer accepts when the condominium is loaded: one it does not
accept is logged at ERROR naming the file and the accepted voices (the
concierge would send it, and every sentence of that condominium would fail), and
the condominium is not warmed. The fixed sentences of each valid condominium
(its name in them) are synthesized into the cache in the background, newest
condominiums first after a reload, while the cache has room for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from porteiro_common.prompts import fixed_sentences, load_prompts
from porteiro_common.tenants import Condominium, Refresh, TenantRegistry, TenantWatcher
from porteiro_speech import metrics
from porteiro_speech.backends import BackendError
from porteiro_speech.servicer import SpeechServicer
from porteiro_speech.settings import SpeechSettings

log = logging.getLogger(__name__)


class SpeechTenants:
    """The condominiums' voices (checked when loaded) and the warm-up of their sentences."""

    def __init__(self, settings: SpeechSettings, servicer: SpeechServicer) -> None:
        self.servicer = servicer
        self.warm = settings.warmup
        self.registry: TenantRegistry[str] | None = None
        self.watcher: TenantWatcher | None = None
        self._pending: asyncio.Queue[Condominium] = asyncio.Queue()
        self._warming: asyncio.Task | None = None
        if settings.tenants_dir is not None:
            base = load_prompts(settings.prompts_file)
            self.registry = TenantRegistry(settings.tenants_dir, self.checked_voice, base)
            self.watcher = TenantWatcher(self.registry, settings.reload_interval_seconds, self._refreshed)

    def checked_voice(self, condominium: Condominium) -> str:
        """The registry's `build`: the voice this synthesizer will use for the condominium.

        Raises ValueError (the condominium is rejected, logged) for a voice not accepted."""
        return self.servicer.voice(condominium.voice or "")

    async def start(self) -> None:
        if self.watcher is None:
            return
        await self.watcher.refresh()
        self.watcher.start()
        self._warming = asyncio.create_task(self._warm_up(), name="tenants-warm-up")

    async def stop(self) -> None:
        if self.watcher is not None:
            await self.watcher.stop()
        if self._warming is not None:
            self._warming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._warming

    async def _refreshed(self, report: Refresh) -> None:
        if self.registry is None or not self.warm:
            return
        for condominium_id in report.loaded:
            tenant = self.registry.current.get(condominium_id)
            if tenant is not None:
                self._pending.put_nowait(tenant.condominium)

    async def _warm_up(self) -> None:
        """Synthesize each loaded condominium's fixed sentences in its voice, while the cache has room."""
        cache = self.servicer.cache
        while True:
            condominium = await self._pending.get()
            for sentence in fixed_sentences(dict(condominium.prompts)):
                if len(cache) >= cache.max_entries:
                    break  # a full cache would only evict sentences to store others
                try:
                    await self.servicer.synthesize_into_cache(sentence, condominium.voice or "")
                except BackendError as error:
                    metrics.ERRORS.labels(self.servicer.backends.synthesizer.name, "warmup").inc()
                    log.warning("condominium %s warm-up failed: %s", condominium.id, error)
                    break
