"""Many condominiums in one directory: the tenants folder, each tenant with its own index.

The folder's format, validation and reload rules are the shared ones
(`porteiro_common.tenants`); this module adds what the directory builds for
each tenant, a pre-indexed `Directory` of its data, and the metrics.
"""

from __future__ import annotations

import gc
import logging
from pathlib import Path

from porteiro_common.prompts import load_prompts
from porteiro_common.tenants import (
    Condominium,
    Refresh,
    Tenant,
    TenantRegistry,
    read_directory_document,
)
from porteiro_directory.data import parse_apartments
from porteiro_directory.matching import Directory, Thresholds
from porteiro_directory.metrics import CONDOMINIUMS, RELOADS

log = logging.getLogger(__name__)


class TenantDirectories:
    """The condominiums of `folder`, by id, each with its directory index."""

    def __init__(self, folder: Path, thresholds: Thresholds) -> None:
        self.thresholds = thresholds
        # The directory speaks no sentence, but validates the tenants' prompts
        # against the packaged ones so that every service judges a tenant alike.
        self.registry: TenantRegistry[Directory] = TenantRegistry(folder, self.build, load_prompts())
        self._first_done = False

    def build(self, condominium: Condominium) -> Directory:
        """Read, validate and index one tenant's directory data (blocking)."""
        document = read_directory_document(condominium)
        path = condominium.directory_file or condominium.id
        return Directory(parse_apartments(document, path), self.thresholds)

    def get(self, condominium_id: str) -> Tenant[Directory] | None:
        return self.registry.current.get(condominium_id)

    def problem(self, condominium_id: str) -> str | None:
        """Why this condominium's newest files were rejected, if they were."""
        return self.registry.problems.get(condominium_id)

    @property
    def ready(self) -> bool:
        """True once the folder has been listed (some tenants may still be broken)."""
        return self.registry.folder_read

    def counted(self, report: Refresh) -> None:
        """Count a refresh's results; the first (start-up) load is not a reload."""
        if self._first_done:
            RELOADS.labels(result="ok").inc(len(report.loaded))
            RELOADS.labels(result="failed").inc(len(report.failed))
        if self.registry.folder_read:
            self._first_done = True
        served = len(self.registry.current)
        CONDOMINIUMS.labels(state="served").set(served)
        CONDOMINIUMS.labels(state="rejected").set(len(self.registry.problems))
        if report.changed:
            # The indexes are long-lived: keep the cyclic GC from walking them.
            gc.freeze()
            log.info(
                "tenants folder %s: %d condominiums served (%d loaded, %d removed, %d rejected now)",
                self.registry.folder,
                served,
                len(report.loaded),
                len(report.removed),
                len(report.failed),
            )
