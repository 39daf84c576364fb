"""Many condominiums on one deployment: the tenant model, its folder, and routing a call.

A condominium (tenant) has an id, a code (8 hex digits, carried by the call
UUID), a name, its prompts, an optional voice, its PBX settings, its register
settings and its directory data. They come from a folder with one entry per
condominium, named by its id:

    tenants/
      apoena/                       # a subfolder (or a ConfigMap mounted there)
        condominium.yaml            # code, name, voice, pbx, register (required)
        directory.yaml              # or directory.json / directory.yml (required)
        prompts.yaml                # only the sentences that differ (optional)
      jacaranda.yaml                # or one file: the same keys, plus prompts: and apartments:

`condominium.yaml` (or the one file)::

    code: "a1b2c3d4"                # 8 hex digits, quoted; unique in the folder
    name: "Residencial Jacarandá"   # fills {condominium_name} and replaces the default name
    voice: "pt-BR-FranciscaNeural"  # optional; empty = the speech service's default voice
    pbx:                            # optional; each key left out = the dialer's own setting
      license: "000000000001"
      destiny: "IA"
      queue: "voip2-in"
      routing_key: "voip2-in"
    register:                       # optional; left out = the register's own setting
      store_visitor_name: false
      retention_days: 90

Prompts start from the deployment's prompts (the packaged pt-BR file, or the
service's PROMPTS_FILE); the default condominium's name inside them
("Condomínio Apoena, em que posso ajudar?") is replaced by the tenant's name,
then the tenant's own sentences override. A tenant may only override keys that
exist, with only the {placeholders} the default sentence has.

`TenantRegistry.refresh()` scans the folder and (re)loads only the tenants
whose files changed (mtime, size, inode: ConfigMap symlink swaps included). A
tenant whose new files are broken keeps its last good data (or stays absent if
it never loaded); the problem is logged naming the file and field, and never
affects the other tenants. Requests read `registry.current`, an immutable
snapshot swapped in one assignment.

Without a folder the registry serves one tenant, `default`, built by the
service from its single-condominium settings: that deployment is unchanged.

Routing (see `condominium_for_session`): a per-port mapping (visitor port ->
condominium id) if the call's port is in it; else, with a folder, the code in
the call UUID's first 8 hex digits; else (no folder) the default tenant.

Metrics: `CondominiumLabels` gives call counters a bounded `condominium` label.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import string
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Generic, TypeVar

import yaml

from porteiro_common.ids import condominium_code, is_condominium_code
from porteiro_common.periodic import PeriodicTask

log = logging.getLogger(__name__)

DEFAULT_CONDOMINIUM = "default"
# Lowercase letters, digits, '-' and '_', up to 64 characters, starting with a
# letter or digit: usable as a folder name, a ConfigMap key and a metric label.
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
CONDOMINIUM_FILE = "condominium.yaml"
PROMPTS_FILE = "prompts.yaml"
DIRECTORY_FILES = ("directory.yaml", "directory.yml", "directory.json")
ONE_FILE_SUFFIXES = (".yaml", ".yml", ".json")
# Keys of condominium.yaml; the one-file form also takes `prompts` and `apartments`.
CONDOMINIUM_KEYS = frozenset({"id", "code", "name", "voice", "pbx", "register"})
ONE_FILE_KEYS = CONDOMINIUM_KEYS | {"prompts", "apartments"}
PBX_KEYS = ("license", "destiny", "queue", "routing_key")
REGISTER_KEYS = ("store_visitor_name", "retention_days")
NAME_KEY = "condominium_name"

T = TypeVar("T")

# libyaml's safe loader when PyYAML was built with it (parses ~10x faster: a thousand tenants).
SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class TenantError(ValueError):
    """A tenant's files cannot be used; `problems` lists every reason, each naming its field."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


@dataclass(frozen=True)
class PbxSettings:
    """Click-to-call payload settings; None = the dialer's own setting."""

    license: str | None = None
    destiny: str | None = None
    queue: str | None = None
    routing_key: str | None = None


@dataclass(frozen=True)
class RegisterSettings:
    """Visitor-register settings; None = the register service's own setting."""

    store_visitor_name: bool | None = None
    retention_days: int | None = None


@dataclass(frozen=True)
class Condominium:
    """One tenant's settings, validated. `prompts` holds every sentence, defaults merged."""

    id: str
    # 8 lowercase hex digits; None only for the single-condominium `default` tenant.
    code: str | None
    name: str
    prompts: Mapping[str, str]
    voice: str | None = None
    pbx: PbxSettings = PbxSettings()
    register: RegisterSettings = RegisterSettings()
    # Where the directory data is. When `directory_inline`, the file is the
    # tenant's one file and the data is its `apartments` key.
    directory_file: Path | None = None
    directory_inline: bool = False
    # The folder or file the tenant came from (None for the single-condominium default).
    source: Path | None = None


def read_directory_document(condominium: Condominium) -> Any:
    """The directory data of a tenant as parsed JSON/YAML (the directory file format).

    Raises TenantError naming the file when it cannot be read or parsed."""
    path = condominium.directory_file
    if path is None:
        raise TenantError(condominium.source or condominium.id, ["no directory data"])
    document = _read_document(path)
    if condominium.directory_inline:
        if not isinstance(document, Mapping) or "apartments" not in document:
            raise TenantError(path, ["apartments is missing"])
        return document["apartments"]
    return document


# ---- reading and validating one tenant -------------------------------------------


def _read_document(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise TenantError(path, [f"cannot read the file: {error.strerror or error}"]) from error
    except UnicodeDecodeError as error:
        raise TenantError(path, [f"not UTF-8 text: {error}"]) from error
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.load(text, Loader=SAFE_LOADER)  # noqa: S506 - a safe loader
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise TenantError(path, [f"not valid JSON/YAML: {error}"]) from error


def _placeholders(sentence: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(sentence) if name is not None}


def tenant_prompts(
    base: Mapping[str, str], name: str, overrides: Any, where: str, problems: list[str]
) -> dict[str, str]:
    """`base` with the default condominium name replaced by `name`, then `overrides` applied."""
    default_name = base.get(NAME_KEY, "")
    prompts = {
        key: (text.replace(default_name, name) if default_name else text) for key, text in base.items()
    }
    prompts[NAME_KEY] = name
    if overrides is None:
        return prompts
    if not isinstance(overrides, Mapping):
        problems.append(f"{where}: must be a mapping of prompt key: sentence")
        return prompts
    for key, text in overrides.items():
        label = f"{where}: {key}"
        if key == NAME_KEY:
            problems.append(f"{label}: give the name as `name` in {CONDOMINIUM_FILE}")
        elif key not in base:
            problems.append(f"{label}: unknown prompt key")
        elif not isinstance(text, str) or not text.strip():
            problems.append(f"{label}: empty or not text")
        else:
            try:
                extra = _placeholders(text) - _placeholders(base[key])
            except ValueError as error:
                problems.append(f"{label}: bad {{placeholder}}: {error}")
                continue
            if extra:
                allowed = ", ".join(sorted(_placeholders(base[key]))) or "none"
                problems.append(
                    f"{label}: unknown placeholder(s) {', '.join(sorted(extra))} (allowed: {allowed})"
                )
            else:
                prompts[str(key)] = text.strip()
    return prompts


def _optional_text(document: Mapping[str, Any], key: str, where: str, problems: list[str]) -> str | None:
    value = document.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        problems.append(f"{where}{key}: must be non-empty text")
        return None
    return str(value).strip()


def _section(document: Mapping[str, Any], key: str, allowed: Iterable[str], problems: list[str]) -> Mapping:
    value = document.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(f"{key}: must be a mapping")
        return {}
    unknown = sorted(str(name) for name in value if name not in allowed)
    if unknown:
        problems.append(f"{key}: unknown field(s) {', '.join(unknown)}")
    return value


def parse_condominium(
    document: Any,
    condominium_id: str,
    base_prompts: Mapping[str, str],
    *,
    path: Path,
    prompts_overrides: Any = None,
    prompts_where: str = "prompts",
    allowed_keys: frozenset[str] = CONDOMINIUM_KEYS,
) -> Condominium:
    """Validate a condominium document; raise TenantError listing every problem."""
    if not isinstance(document, Mapping):
        raise TenantError(path, ["expected a mapping with code and name"])
    problems: list[str] = []
    unknown = sorted(str(key) for key in document if key not in allowed_keys)
    if unknown:
        problems.append(f"unknown field(s) {', '.join(unknown)}")
    given_id = document.get("id")
    if given_id is not None and given_id != condominium_id:
        problems.append(f"id: {given_id!r} differs from the folder/file name {condominium_id!r}")
    code = document.get("code")
    if isinstance(code, int) and not isinstance(code, bool):
        problems.append('code: must be quoted text of 8 hex digits (e.g. code: "00012345")')
        code = None
    elif not isinstance(code, str) or not is_condominium_code(code.strip().lower()):
        problems.append("code: missing or not 8 hex digits")
        code = None
    else:
        code = code.strip().lower()
    name = document.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append("name: missing or empty")
        name = ""
    voice = _optional_text(document, "voice", "", problems)
    pbx = _section(document, "pbx", PBX_KEYS, problems)
    pbx_settings = PbxSettings(**{key: _optional_text(pbx, key, "pbx.", problems) for key in PBX_KEYS})
    register = _section(document, "register", REGISTER_KEYS, problems)
    store_name = register.get("store_visitor_name")
    if store_name is not None and not isinstance(store_name, bool):
        problems.append("register.store_visitor_name: must be true or false")
        store_name = None
    days = register.get("retention_days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 0):
        problems.append("register.retention_days: must be a whole number of days >= 0 (0 = keep forever)")
        days = None
    prompts = tenant_prompts(base_prompts, name.strip(), prompts_overrides, prompts_where, problems)
    if problems:
        raise TenantError(path, problems)
    assert code is not None
    return Condominium(
        id=condominium_id,
        code=code,
        name=name.strip(),
        prompts=MappingProxyType(prompts),
        voice=voice,
        pbx=pbx_settings,
        register=RegisterSettings(store_name, days),
        source=path,
    )


@dataclass(frozen=True)
class TenantSource:
    """Where one tenant's files are: a subfolder or a single file."""

    id: str
    path: Path
    # Set when the entry cannot be a tenant (e.g. both apoena/ and apoena.yaml exist).
    problem: str | None = None
    is_folder: bool = False

    def files(self) -> list[str]:
        if not self.is_folder:
            return [str(self.path)]
        folder = str(self.path)
        return [os.path.join(folder, name) for name in (CONDOMINIUM_FILE, PROMPTS_FILE, *DIRECTORY_FILES)]

    def signature(self) -> tuple[object, ...]:
        """What changes when any of the tenant's files is written, replaced, added or removed."""
        parts: list[object] = []
        for path in self.files():
            try:
                stat = os.stat(path)  # follows symlinks: a ConfigMap update changes the inode
            except OSError:
                parts.append(None)
                continue
            parts.append((stat.st_mtime_ns, stat.st_size, stat.st_ino))
        return tuple(parts)


def read_tenant(source: TenantSource, base_prompts: Mapping[str, str]) -> Condominium:
    """Read and validate one tenant's condominium and prompts (not its directory data)."""
    if source.problem:
        raise TenantError(source.path, [source.problem])
    if not ID_PATTERN.fullmatch(source.id):
        raise TenantError(
            source.path,
            [
                "name is not a valid condominium id (lowercase letters, digits, '-' and '_', "
                "at most 64, starting with a letter or digit)"
            ],
        )
    if not source.is_folder:
        document = _read_document(source.path)
        overrides = document.get("prompts") if isinstance(document, Mapping) else None
        condominium = parse_condominium(
            document,
            source.id,
            base_prompts,
            path=source.path,
            prompts_overrides=overrides,
            allowed_keys=ONE_FILE_KEYS,
        )
        if isinstance(document, Mapping) and "apartments" not in document:
            raise TenantError(source.path, ["apartments: missing (the condominium's directory)"])
        return replace(condominium, directory_file=source.path, directory_inline=True)
    condominium_path = source.path / CONDOMINIUM_FILE
    if not condominium_path.exists():
        raise TenantError(condominium_path, ["missing"])
    directories = [source.path / name for name in DIRECTORY_FILES if (source.path / name).exists()]
    if len(directories) != 1:
        found = ", ".join(path.name for path in directories) or "none"
        raise TenantError(source.path, [f"needs exactly one of {', '.join(DIRECTORY_FILES)} (found {found})"])
    prompts_path = source.path / PROMPTS_FILE
    overrides = _read_document(prompts_path) if prompts_path.exists() else None
    condominium = parse_condominium(
        _read_document(condominium_path),
        source.id,
        base_prompts,
        path=condominium_path,
        prompts_overrides=overrides,
        prompts_where=str(prompts_path),
    )
    return replace(condominium, directory_file=directories[0], source=source.path)


def scan_folder(folder: Path) -> dict[str, TenantSource]:
    """The tenants in `folder`, by id. Hidden entries (ConfigMap's ..data) and other files are skipped.

    Raises OSError when the folder cannot be listed."""
    sources: dict[str, TenantSource] = {}
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda item: item.name):
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            is_folder = entry.is_dir()  # follows a symlink, as a mounted volume may be
            if is_folder:
                tenant_id = entry.name
            elif path.suffix.lower() in ONE_FILE_SUFFIXES:
                tenant_id = path.stem
            else:
                continue  # a README or the like
            if tenant_id in sources:
                # Both apoena/ and apoena.yaml: refuse both rather than guess.
                problem = f"both a folder and a file are named {tenant_id!r}: keep one"
                sources[tenant_id] = TenantSource(tenant_id, path, problem, is_folder)
                continue
            sources[tenant_id] = TenantSource(tenant_id, path, is_folder=is_folder)
    return sources


# ---- the registry ------------------------------------------------------------------


@dataclass(frozen=True)
class Tenant(Generic[T]):
    """A loaded tenant: its settings and what the service built from them (e.g. a directory index)."""

    condominium: Condominium
    data: T

    @property
    def id(self) -> str:
        return self.condominium.id


@dataclass(frozen=True)
class Tenants(Generic[T]):
    """An immutable snapshot of the loaded tenants."""

    by_id: Mapping[str, Tenant[T]] = field(default_factory=dict)
    by_code: Mapping[str, Tenant[T]] = field(default_factory=dict)
    # True without a tenants folder: every call belongs to the `default` tenant.
    single: bool = False

    def get(self, condominium_id: str) -> Tenant[T] | None:
        """The tenant with this id; "" means `default`."""
        return self.by_id.get(condominium_id or DEFAULT_CONDOMINIUM)

    def for_code(self, code: str) -> Tenant[T] | None:
        return self.by_code.get(code.lower())

    def __len__(self) -> int:
        return len(self.by_id)


@dataclass
class Refresh:
    """What one refresh did."""

    loaded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    # Set when the folder itself could not be listed (everything kept as it was).
    folder_error: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.loaded or self.removed)


class TenantRegistry(Generic[T]):
    """The tenants a service serves, reloaded from the folder on change.

    `build(condominium)` makes the service's own data for a tenant (the directory
    builds its index; a service that needs nothing more returns None). It runs in
    `refresh`, which blocks: call it in a thread (`await asyncio.to_thread(...)`).
    `build` reports unusable data by raising ValueError (or OSError): the tenant
    then keeps its last good data.

    Without `folder`, `default` (built from the single-condominium settings)
    is the only tenant; its signature is its directory file's.
    """

    def __init__(
        self,
        folder: Path | None,
        build: Callable[[Condominium], T],
        base_prompts: Mapping[str, str],
        default: Condominium | None = None,
    ) -> None:
        if folder is None and default is None:
            raise ValueError("a registry without a tenants folder needs the default condominium")
        self.folder = folder
        self.build = build
        self.base_prompts = dict(base_prompts)
        self.default = default
        self.current: Tenants[T] = Tenants(single=folder is None)
        # id -> the problem that keeps the tenant's newest files from being served.
        self.problems: dict[str, str] = {}
        self.folder_read = False
        # Why the folder could not be listed at the last refresh (None when it could).
        self.folder_error: str | None = None
        self._signatures: dict[str, tuple[object, ...]] = {}

    def _sources(self) -> dict[str, TenantSource]:
        if self.folder is None:
            assert self.default is not None
            path = self.default.directory_file or Path(os.devnull)
            return {DEFAULT_CONDOMINIUM: TenantSource(DEFAULT_CONDOMINIUM, path)}
        return scan_folder(self.folder)

    def _read(self, source: TenantSource) -> Condominium:
        if self.folder is None:
            assert self.default is not None
            return self.default
        return read_tenant(source, self.base_prompts)

    def refresh(self) -> Refresh:
        """Load new and changed tenants, drop removed ones, swap `current` (blocking)."""
        report = Refresh()
        try:
            sources = self._sources()
        except OSError as error:
            report.folder_error = f"cannot list the tenants folder {self.folder}: {error.strerror or error}"
            log.error("%s; keeping the %d condominiums served", report.folder_error, len(self.current))
            self.folder_error = report.folder_error
            return report
        self.folder_read = True
        self.folder_error = None
        by_id = dict(self.current.by_id)
        for removed in sorted(set(self._signatures) - set(sources)):
            self._signatures.pop(removed)
            self.problems.pop(removed, None)
            if by_id.pop(removed, None) is not None:
                report.removed.append(removed)
                log.info("condominium %s removed (no longer in the tenants folder)", removed)
        codes = {t.condominium.code: t.id for t in by_id.values() if t.condominium.code is not None}
        for tenant_id, source in sources.items():
            signature = source.signature()
            if self._signatures.get(tenant_id) == signature:
                continue
            self._signatures[tenant_id] = signature
            try:
                condominium = self._read(source)
                owner = codes.get(condominium.code) if condominium.code is not None else None
                if owner is not None and owner != tenant_id:
                    raise TenantError(
                        condominium.source or source.path,
                        [f"code: {condominium.code} is already used by condominium {owner}"],
                    )
                tenant = Tenant(condominium, self.build(condominium))
            except Exception as error:  # noqa: BLE001 - one tenant's problem never stops the others
                report.failed[tenant_id] = str(error)
                self.problems[tenant_id] = str(error)
                kept = "keeping its previous data" if tenant_id in by_id else "not served"
                unexpected = not isinstance(error, (ValueError, OSError))
                log.error("condominium %s rejected, %s: %s", tenant_id, kept, error, exc_info=unexpected)
                continue
            previous = by_id.get(tenant_id)
            previous_code = previous.condominium.code if previous is not None else None
            if previous_code is not None and codes.get(previous_code) == tenant_id:
                codes.pop(previous_code)
            if condominium.code is not None:
                codes[condominium.code] = tenant_id
            by_id[tenant_id] = tenant
            self.problems.pop(tenant_id, None)
            report.loaded.append(tenant_id)
        if report.changed:
            self.current = Tenants(
                by_id=MappingProxyType(by_id),
                by_code=MappingProxyType(
                    {t.condominium.code: t for t in by_id.values() if t.condominium.code is not None}
                ),
                single=self.folder is None,
            )
        return report


class TenantWatcher(PeriodicTask):
    """Calls `registry.refresh` in a thread every `interval` seconds; `on_refresh` gets each report."""

    task_name = "tenants-folder-watcher"

    def __init__(
        self,
        registry: TenantRegistry[Any],
        interval: float,
        on_refresh: Callable[[Refresh], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(interval)
        self.registry = registry
        self.on_refresh = on_refresh

    async def refresh(self) -> Refresh:
        report = await asyncio.to_thread(self.registry.refresh)
        if self.on_refresh is not None:
            await self.on_refresh(report)
        return report

    async def tick(self) -> Refresh:
        return await self.refresh()


def default_condominium(
    prompts: Mapping[str, str], directory_file: Path | None = None, pbx: PbxSettings | None = None
) -> Condominium:
    """The single-condominium deployment as the `default` tenant (its name from the prompts)."""
    return Condominium(
        id=DEFAULT_CONDOMINIUM,
        code=None,
        name=prompts.get(NAME_KEY, ""),
        prompts=MappingProxyType(dict(prompts)),
        pbx=pbx or PbxSettings(),
        directory_file=directory_file,
    )


# ---- routing a call to its condominium ---------------------------------------------


def parse_port_map(text: str) -> dict[int, str]:
    """A per-port mapping setting, "8080=apoena,8082=jacaranda", as {port: condominium id}.

    Raises ValueError naming the bad item."""
    mapping: dict[int, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        port_text, equals, condominium_id = item.partition("=")
        if not equals:
            raise ValueError(f"{item!r}: expected port=condominium (e.g. 8080=apoena)")
        condominium_id = condominium_id.strip()
        if not port_text.strip().isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"{item!r}: the port must be a number from 1 to 65535 (port=condominium)")
        if not ID_PATTERN.fullmatch(condominium_id):
            raise ValueError(f"{item!r}: {condominium_id!r} is not a condominium id")
        port = int(port_text)
        if port in mapping:
            raise ValueError(f"{item!r}: port {port} is given twice")
        mapping[port] = condominium_id
    return mapping


def condominium_for_session(
    session_id: str,
    tenants: Tenants[T] | TenantRegistry[T],
    *,
    port: int | None = None,
    port_map: Mapping[int, str] | None = None,
) -> Tenant[T] | None:
    """The condominium a call belongs to, or None when it belongs to none served here.

    1. `port_map` (visitor port -> id), when the call came in on a mapped port;
    2. without a tenants folder, the `default` tenant (every call);
    3. the code in the UUID's first 8 hex digits.
    None means: refuse the call (apology, hang up, count it). A session id that
    is not a UUID also gives None.
    """
    snapshot = tenants.current if isinstance(tenants, TenantRegistry) else tenants
    if port_map and port is not None and port in port_map:
        return snapshot.get(port_map[port])
    if snapshot.single:
        return snapshot.get(DEFAULT_CONDOMINIUM)
    try:
        code = condominium_code(session_id)
    except ValueError:
        return None
    return snapshot.for_code(code)


# ---- the bounded `condominium` metric label -----------------------------------------

# Label values that are not condominium ids.
LABEL_OFF = "-"  # labelling disabled
LABEL_OTHER = "other"  # a condominium beyond the configured ones
LABEL_UNKNOWN = "unknown"  # a call for no condominium served here (refused)


class CondominiumLabels:
    """The `condominium` label of call counters, bounded so that 1,000 tenants cannot blow up Prometheus.

    `setting` (e.g. PORTEIRO_<SERVICE>_METRICS_CONDOMINIUMS):
    * "" — labelling off: every call is "-" (one series, as a single-condominium deployment);
    * "a,b,c" — those ids by name, every other condominium "other";
    * "*" — each condominium by id, the first `limit` seen; later ones "other".
    A call for no served condominium is "unknown" in every mode but "".
    """

    def __init__(self, setting: str = "", limit: int = 50) -> None:
        text = setting.strip()
        self.every = text == "*"
        self.limit = limit
        self.enabled = bool(text)
        named = [] if self.every or not text else [part.strip() for part in text.split(",") if part.strip()]
        bad = [name for name in named if not ID_PATTERN.fullmatch(name)]
        if bad:
            raise ValueError(
                f"not condominium ids: {', '.join(map(repr, bad))} (expected '', '*' or 'a,b,c')"
            )
        self._named = frozenset(named)
        self._seen: set[str] = set()

    def __call__(self, condominium_id: str | None) -> str:
        """The label value for a call of this condominium (None: a call refused as unknown)."""
        if not self.enabled:
            return LABEL_OFF
        if condominium_id is None:
            return LABEL_UNKNOWN
        if not self.every:
            return condominium_id if condominium_id in self._named else LABEL_OTHER
        if condominium_id in self._seen:
            return condominium_id
        if len(self._seen) < self.limit:
            self._seen.add(condominium_id)
            return condominium_id
        return LABEL_OTHER
