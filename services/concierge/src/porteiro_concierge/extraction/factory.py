"""Which extractor serves: CrewAI when an LLM is configured, else the deterministic one.

CrewAI is an extra (`porteiro-concierge[llm]`): without it, configuring an LLM stops the
service at start-up with the install command (`porteiro_common.extras.MissingExtra`).
"""

from __future__ import annotations

from porteiro_common.extras import require_extra
from porteiro_concierge.extraction.base import Extractor
from porteiro_concierge.extraction.deterministic import DeterministicExtractor, NameDirectory
from porteiro_concierge.settings import ConciergeSettings


def build_extractors(settings: ConciergeSettings, directory: NameDirectory) -> tuple[Extractor, Extractor]:
    """(the extractor to use, the deterministic one to fall back on)."""
    deterministic = DeterministicExtractor(directory)
    if not settings.llm_model:
        return deterministic, deterministic
    require_extra(
        "crewai",
        distribution="porteiro-concierge",
        extra="llm",
        needed_by="PORTEIRO_CONCIERGE_LLM_MODEL is set",
    )
    # Imported only when configured: importing crewai takes seconds.
    from porteiro_concierge.extraction.crewai_extractor import CrewAIExtractor

    crewai = CrewAIExtractor(
        model=settings.llm_model,
        api_key=settings.llm_api_key,
        base_url=settings.llm_base_url,
        timeout_seconds=settings.llm_timeout_seconds,
        fallback=deterministic,
    )
    return crewai, deterministic
