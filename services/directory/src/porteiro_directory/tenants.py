"""Many condominiums in one directory: the tenants folder, each tenant with its own index.

The folder's format, validation and reload rules are the shared ones
(`porteiro_common.tenants`); this module adds what the directory builds for
each tenant, a pre-indexed `Directory` of its data, and the metrics.

`python -m porteiro_directory.tenants FOLDER` checks a folder before it is
deployed (exit 0: every condominium valid; 1: some rejected; 2: not listable).
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from pathlib import Path
from typing import TextIO

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


def check_folder(folder: Path, out: TextIO = sys.stdout) -> int:
    """Validate a tenants folder as the service would load it; print one line per condominium.

    Returns 0 when every condominium is valid, 1 when some are rejected, 2 when
    the folder cannot be listed."""
    directories = TenantDirectories(folder, Thresholds())
    report = directories.registry.refresh()
    if report.folder_error is not None:
        print(report.folder_error, file=out)
        return 2
    for tenant_id in report.loaded:
        tenant = directories.get(tenant_id)
        assert tenant is not None
        print(
            f"ok        {tenant_id}: code {tenant.condominium.code}, {tenant.condominium.name!r}, "
            f"{len(tenant.data.apartments)} apartments, {tenant.data.resident_count} residents",
            file=out,
        )
    for tenant_id, problem in report.failed.items():
        print(f"rejected  {tenant_id}: {problem}", file=out)
    if not report.loaded and not report.failed:
        print(f"{folder}: no condominiums", file=out)
    return 1 if report.failed else 0


def main(argv: list[str] | None = None) -> int:
    """`python -m porteiro_directory.tenants FOLDER`: check a tenants folder before deploying it."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("folder", type=Path, help="the tenants folder (PORTEIRO_DIRECTORY_TENANTS_DIR)")
    args = parser.parse_args(argv)
    # The problems are printed below; the registry's own log lines would repeat them.
    logging.getLogger("porteiro_common.tenants").setLevel(logging.CRITICAL)
    return check_folder(args.folder)


if __name__ == "__main__":
    sys.exit(main())
