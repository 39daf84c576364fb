"""The tenant model: reading the folder, validation, reload rules and routing a call (real files)."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
import uuid
from pathlib import Path

import pytest
import yaml

from porteiro_common.ids import condominium_code, is_condominium_code, session_id_for
from porteiro_common.prompts import load_prompts
from porteiro_common.tenants import (
    DEFAULT_CONDOMINIUM,
    Condominium,
    CondominiumLabels,
    TenantError,
    TenantRegistry,
    TenantWatcher,
    condominium_for_session,
    default_condominium,
    parse_port_map,
    read_directory_document,
    read_tenant,
    scan_folder,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "services/directory/examples/tenants"
BASE = load_prompts()
ARARAS_CODE = "b05c0a2a"
JACARANDA_CODE = "1aca0da0"


def apartments_of(condominium: Condominium) -> list[str]:
    """The service's 'build' in these tests: the apartment numbers of the directory data."""
    document = read_directory_document(condominium)
    if not isinstance(document, list):
        raise ValueError(f"{condominium.directory_file}: expected a list of apartments")
    return [str(entry.get("number", entry.get("apartment_number"))) for entry in document]


def registry(folder: Path) -> TenantRegistry[list[str]]:
    return TenantRegistry(folder, apartments_of, BASE)


@pytest.fixture
def tenants_dir(tmp_path: Path) -> Path:
    """A writable copy of the example folder (two condominiums and a README)."""
    target = tmp_path / "tenants"
    shutil.copytree(EXAMPLES, target)
    return target


def write_yaml(path: Path, document: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    os.replace(temporary, path)


def condominium_document(code: str, name: str, **extra: object) -> dict[str, object]:
    return {"code": code, "name": name, **extra}


def one_file(code: str, name: str, apartments: list[dict], **extra: object) -> dict[str, object]:
    return {**condominium_document(code, name, **extra), "apartments": apartments}


APARTMENT = {"number": "1", "destination": "sip:1@example.test", "residents": ["Vera Lúcia Campos"]}


# ---- reading the example folder -------------------------------------------------


def test_the_example_folder_has_two_condominiums_in_both_forms():
    sources = scan_folder(EXAMPLES)
    assert sorted(sources) == ["bosque-das-araras", "jacaranda"]  # README.md skipped
    araras = read_tenant(sources["bosque-das-araras"], BASE)
    assert (araras.id, araras.code, araras.name) == (
        "bosque-das-araras",
        ARARAS_CODE,
        "Condomínio Bosque das Araras",
    )
    assert araras.directory_file == EXAMPLES / "bosque-das-araras" / "directory.json"
    assert not araras.directory_inline
    assert araras.voice == "pt-br"
    assert (araras.pbx.license, araras.pbx.destiny, araras.pbx.queue, araras.pbx.routing_key) == (
        "000000000101",
        "IA",
        "voip-araras-in",
        None,
    )
    assert (araras.register.store_visitor_name, araras.register.retention_days) == (False, 90)
    jacaranda = read_tenant(sources["jacaranda"], BASE)
    assert jacaranda.directory_inline and jacaranda.directory_file == EXAMPLES / "jacaranda.yaml"
    assert (
        jacaranda.voice is None
        and jacaranda.pbx.destiny is None
        and jacaranda.register.retention_days is None
    )
    assert apartments_of(jacaranda) == ["101", "101", "102"]


def test_prompts_take_the_name_then_the_overrides():
    araras = read_tenant(scan_folder(EXAMPLES)["bosque-das-araras"], BASE)
    prompts = araras.prompts
    assert prompts["condominium_name"] == "Condomínio Bosque das Araras"
    assert prompts["greeting"] == "Bosque das Araras, boa tarde! É entrega ou visita?"  # prompts.yaml
    assert prompts["visitor_denied"].endswith("Obrigado pela compreensão.")
    assert prompts["ask_intent"] == BASE["ask_intent"]  # not overridden: the deployment's sentence
    assert set(prompts) == set(BASE)
    # A default sentence naming the default condominium names this one instead.
    jacaranda_base = dict(BASE, fallback="Condomínio Apoena: estamos com um problema técnico.")
    jacaranda = read_tenant(scan_folder(EXAMPLES)["jacaranda"], jacaranda_base)
    assert jacaranda.prompts["fallback"] == "Residencial Jacarandá: estamos com um problema técnico."
    assert "Apoena" not in " ".join(jacaranda.prompts.values())


def test_the_default_tenant_is_the_single_condominium_settings():
    default = default_condominium(BASE, Path("/srv/condominio.json"))
    assert (default.id, default.code, default.name) == (DEFAULT_CONDOMINIUM, None, BASE["condominium_name"])
    assert dict(default.prompts) == BASE
    assert default.directory_file == Path("/srv/condominio.json")


# ---- validation: every problem names its file and field ---------------------------


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {"code": 12345678, "name": "X"},
            'code: must be quoted text of 8 hex digits (e.g. code: "00012345")',
        ),
        ({"code": "abc", "name": "X"}, "code: missing or not 8 hex digits"),
        ({"code": "0000000g", "name": "X"}, "code: missing or not 8 hex digits"),
        ({"name": "X"}, "code: missing or not 8 hex digits"),
        ({"code": "00000001", "name": " "}, "name: missing or empty"),
        ({"code": "00000001", "name": "X", "adress": "Rua"}, "unknown field(s) adress"),
        (
            {"code": "00000001", "name": "X", "id": "other"},
            "id: 'other' differs from the folder/file name 'c'",
        ),
        ({"code": "00000001", "name": "X", "voice": ""}, "voice: must be non-empty text"),
        ({"code": "00000001", "name": "X", "pbx": {"licence": "1"}}, "pbx: unknown field(s) licence"),
        ({"code": "00000001", "name": "X", "pbx": "voip1"}, "pbx: must be a mapping"),
        ({"code": "00000001", "name": "X", "pbx": {"queue": ""}}, "pbx.queue: must be non-empty text"),
        (
            {"code": "00000001", "name": "X", "register": {"retention_days": -1}},
            "register.retention_days: must be a whole number of days >= 0 (0 = keep forever)",
        ),
        (
            {"code": "00000001", "name": "X", "register": {"store_visitor_name": "yes"}},
            "register.store_visitor_name: must be true or false",
        ),
        (["code", "name"], "expected a mapping with code and name"),
    ],
)
def test_a_bad_condominium_file_names_the_file_and_field(tmp_path, document, expected):
    path = tmp_path / "c" / "condominium.yaml"
    write_yaml(path, document)
    write_yaml(tmp_path / "c" / "directory.yaml", [APARTMENT])
    with pytest.raises(TenantError) as raised:
        read_tenant(scan_folder(tmp_path)["c"], BASE)
    assert raised.value.path == str(path)
    assert expected in raised.value.problems


@pytest.mark.parametrize(
    ("prompts", "expected"),
    [
        ({"greting": "Olá"}, "greting: unknown prompt key"),
        ({"greeting": ""}, "greeting: empty or not text"),
        ({"greeting": ["Olá"]}, "greeting: empty or not text"),
        (
            {"visitor_denied": "{resident_name} não autorizou."},
            "visitor_denied: unknown placeholder(s) resident_name (allowed: none)",
        ),
        ({"condominium_name": "Outro"}, "condominium_name: give the name as `name` in condominium.yaml"),
        ({"ask_apartment": "Qual {apartamento"}, "ask_apartment: bad {placeholder}"),
    ],
)
def test_bad_prompt_overrides_are_named(tmp_path, prompts, expected):
    folder = tmp_path / "c"
    write_yaml(folder / "condominium.yaml", condominium_document("00000001", "Edifício Sabiá"))
    write_yaml(folder / "directory.yaml", [APARTMENT])
    write_yaml(folder / "prompts.yaml", prompts)
    with pytest.raises(TenantError) as raised:
        read_tenant(scan_folder(tmp_path)["c"], BASE)
    assert raised.value.path == str(folder / "condominium.yaml")
    assert any(
        problem.startswith(f"{folder / 'prompts.yaml'}: {expected}") for problem in raised.value.problems
    ), raised.value.problems


def test_a_placeholder_the_default_has_is_accepted(tmp_path):
    folder = tmp_path / "c"
    write_yaml(folder / "condominium.yaml", condominium_document("00000001", "Edifício Sabiá"))
    write_yaml(folder / "directory.yaml", [APARTMENT])
    write_yaml(folder / "prompts.yaml", {"visitor_authorized_visit": "Entrada liberada por {resident_name}."})
    condominium = read_tenant(scan_folder(tmp_path)["c"], BASE)
    assert condominium.prompts["visitor_authorized_visit"] == "Entrada liberada por {resident_name}."


def test_folder_problems(tmp_path):
    write_yaml(tmp_path / "no-directory" / "condominium.yaml", condominium_document("00000001", "A"))
    write_yaml(tmp_path / "two-directories" / "condominium.yaml", condominium_document("00000002", "B"))
    write_yaml(tmp_path / "two-directories" / "directory.yaml", [APARTMENT])
    (tmp_path / "two-directories" / "directory.json").write_text("[]")
    write_yaml(tmp_path / "no-condominium" / "directory.yaml", [APARTMENT])
    write_yaml(tmp_path / "Bad Name.yaml", one_file("00000003", "C", [APARTMENT]))
    write_yaml(tmp_path / "both.yaml", one_file("00000004", "D", [APARTMENT]))
    write_yaml(tmp_path / "both" / "condominium.yaml", condominium_document("00000005", "E"))
    write_yaml(tmp_path / "no-apartments.yaml", condominium_document("00000006", "F"))
    (tmp_path / "broken.yaml").write_text("code: [", encoding="utf-8")
    sources = scan_folder(tmp_path)
    problems = {}
    for tenant_id, source in sources.items():
        with pytest.raises(TenantError) as raised:
            read_tenant(source, BASE)
        problems[tenant_id] = str(raised.value)
    assert (
        "needs exactly one of directory.yaml, directory.yml, directory.json (found none)"
        in problems["no-directory"]
    )
    assert "(found directory.yaml, directory.json)" in problems["two-directories"]
    assert problems["no-condominium"] == f"{tmp_path / 'no-condominium' / 'condominium.yaml'}: missing"
    assert "is not a valid condominium id" in problems["Bad Name"]
    assert "both a folder and a file are named 'both': keep one" in problems["both"]
    assert (
        problems["no-apartments"]
        == f"{tmp_path / 'no-apartments.yaml'}: apartments: missing (the condominium's directory)"
    )
    assert problems["broken"].startswith(f"{tmp_path / 'broken.yaml'}: not valid JSON/YAML")


# ---- the registry: loading, reloading, one broken tenant never breaks the others ---


def test_refresh_loads_every_tenant_and_indexes_codes(tenants_dir):
    tenants = registry(tenants_dir)
    report = tenants.refresh()
    assert (report.loaded, report.failed, report.removed) == (["bosque-das-araras", "jacaranda"], {}, [])
    current = tenants.current
    assert not current.single and len(current) == 2
    assert current.for_code(ARARAS_CODE).id == "bosque-das-araras"
    assert current.for_code(JACARANDA_CODE.upper()).id == "jacaranda"
    assert current.get("jacaranda").data == ["101", "101", "102"]
    assert current.get("") is None  # no `default` in this folder
    again = tenants.refresh()
    assert not again.changed and again.failed == {}
    assert tenants.current is current  # nothing changed: the same snapshot


def test_a_broken_tenant_keeps_its_last_good_data_and_others_still_reload(tenants_dir, caplog):
    tenants = registry(tenants_dir)
    tenants.refresh()
    before = tenants.current.get("bosque-das-araras")
    (tenants_dir / "bosque-das-araras" / "condominium.yaml").write_text('code: "nothex!!"\nname: X\n')
    write_yaml(
        tenants_dir / "jacaranda.yaml", one_file(JACARANDA_CODE, "Residencial Jacarandá II", [APARTMENT])
    )
    with caplog.at_level(logging.ERROR, logger="porteiro_common.tenants"):
        report = tenants.refresh()
    assert report.loaded == ["jacaranda"]
    assert list(report.failed) == ["bosque-das-araras"]
    assert "condominium.yaml: code: missing or not 8 hex digits" in report.failed["bosque-das-araras"]
    assert "condominium bosque-das-araras rejected, keeping its previous data" in caplog.text
    assert tenants.current.get("bosque-das-araras") is before  # last good data still served
    assert tenants.current.get("jacaranda").condominium.name == "Residencial Jacarandá II"
    assert tenants.problems == {"bosque-das-araras": report.failed["bosque-das-araras"]}
    # Unchanged broken files are not re-read (nor re-logged) at every poll.
    assert tenants.refresh().failed == {}
    # Fixed: served again, the problem forgotten.
    write_yaml(
        tenants_dir / "bosque-das-araras" / "condominium.yaml",
        condominium_document(ARARAS_CODE, "Bosque Novo"),
    )
    assert tenants.refresh().loaded == ["bosque-das-araras"]
    assert tenants.current.get("bosque-das-araras").condominium.name == "Bosque Novo"
    assert tenants.problems == {}


def test_broken_directory_data_rejects_the_tenant_through_build(tenants_dir):
    tenants = registry(tenants_dir)
    tenants.refresh()
    (tenants_dir / "bosque-das-araras" / "directory.json").write_text('{"not": "a list"}')
    report = tenants.refresh()
    assert "expected a list of apartments" in report.failed["bosque-das-araras"]
    assert tenants.current.get("bosque-das-araras").data == ["11", "12", "21", "22"]


def test_a_newcomer_is_loaded_and_a_removed_tenant_dropped(tenants_dir):
    tenants = registry(tenants_dir)
    tenants.refresh()
    write_yaml(tenants_dir / "sabia.yaml", one_file("5ab1a000", "Edifício Sabiá", [APARTMENT]))
    shutil.rmtree(tenants_dir / "bosque-das-araras")
    report = tenants.refresh()
    assert (report.loaded, report.removed) == (["sabia"], ["bosque-das-araras"])
    assert sorted(tenants.current.by_id) == ["jacaranda", "sabia"]
    assert tenants.current.for_code(ARARAS_CODE) is None
    assert tenants.current.for_code("5ab1a000").id == "sabia"


def test_a_newcomer_with_a_code_in_use_is_rejected(tenants_dir):
    tenants = registry(tenants_dir)
    tenants.refresh()
    write_yaml(tenants_dir / "aaa-copy.yaml", one_file(JACARANDA_CODE, "Cópia", [APARTMENT]))
    report = tenants.refresh()
    assert f"code: {JACARANDA_CODE} is already used by condominium jacaranda" in report.failed["aaa-copy"]
    assert tenants.current.for_code(JACARANDA_CODE).id == "jacaranda"
    assert tenants.current.get("aaa-copy") is None


def test_a_tenant_may_change_its_code(tenants_dir):
    tenants = registry(tenants_dir)
    tenants.refresh()
    write_yaml(tenants_dir / "jacaranda.yaml", one_file("2aca0da0", "Residencial Jacarandá", [APARTMENT]))
    assert tenants.refresh().loaded == ["jacaranda"]
    assert tenants.current.for_code(JACARANDA_CODE) is None
    assert tenants.current.for_code("2aca0da0").id == "jacaranda"


def test_an_unreadable_folder_keeps_everything(tenants_dir):
    tenants = registry(tenants_dir)
    tenants.refresh()
    served = tenants.current
    moved = tenants_dir.with_name("elsewhere")
    tenants_dir.rename(moved)
    report = tenants.refresh()
    assert report.folder_error is not None and "cannot list the tenants folder" in report.folder_error
    assert tenants.current is served


def test_a_folder_missing_at_start_is_read_when_it_appears(tmp_path):
    tenants = registry(tmp_path / "tenants")
    assert tenants.refresh().folder_error is not None and not tenants.folder_read
    shutil.copytree(EXAMPLES, tmp_path / "tenants")
    assert tenants.refresh().loaded == ["bosque-das-araras", "jacaranda"] and tenants.folder_read


def test_a_configmap_update_is_seen(tmp_path):
    """Kubernetes mounts a ConfigMap as symlinks into ..data, swapped in one rename."""
    mount = tmp_path / "tenants" / "sabia"
    version1 = mount / "..2026_01_01"
    write_yaml(version1 / "condominium.yaml", condominium_document("5ab1a000", "Edifício Sabiá"))
    write_yaml(version1 / "directory.yaml", [APARTMENT])
    (mount / "..data").symlink_to(version1.name)
    for name in ("condominium.yaml", "directory.yaml"):
        (mount / name).symlink_to(Path("..data") / name)
    tenants = registry(tmp_path / "tenants")
    assert tenants.refresh().loaded == ["sabia"]
    version2 = mount / "..2026_01_02"
    write_yaml(version2 / "condominium.yaml", condominium_document("5ab1a000", "Edifício Sabiá Novo"))
    write_yaml(version2 / "directory.yaml", [APARTMENT, {**APARTMENT, "number": "2"}])
    (mount / "..data_tmp").symlink_to(version2.name)
    os.replace(mount / "..data_tmp", mount / "..data")
    assert tenants.refresh().loaded == ["sabia"]
    assert tenants.current.get("sabia").data == ["1", "2"]
    assert tenants.current.get("sabia").condominium.name == "Edifício Sabiá Novo"


def test_a_build_that_crashes_is_contained(tenants_dir, caplog):
    def build(condominium: Condominium) -> str:
        if condominium.id == "jacaranda":
            raise KeyError("bug in the service's build")
        return condominium.name

    tenants: TenantRegistry[str] = TenantRegistry(tenants_dir, build, BASE)
    with caplog.at_level(logging.ERROR, logger="porteiro_common.tenants"):
        report = tenants.refresh()
    assert report.loaded == ["bosque-das-araras"] and list(report.failed) == ["jacaranda"]
    assert "condominium jacaranda rejected, not served" in caplog.text
    assert tenants.current.get("bosque-das-araras").data == "Condomínio Bosque das Araras"


def test_without_a_folder_the_default_tenant_follows_its_data_file(tmp_path):
    data_file = tmp_path / "condominio.json"
    data_file.write_text('[{"apartment_number": "501", "residents": [], "voip_number": "1"}]')
    tenants = TenantRegistry(None, apartments_of, BASE, default_condominium(BASE, data_file))
    assert tenants.refresh().loaded == [DEFAULT_CONDOMINIUM]
    assert tenants.current.single and tenants.current.get("").data == ["501"]
    assert tenants.refresh().loaded == []
    data_file.write_text('[{"apartment_number": "502", "residents": [], "voip_number": "1"}]')
    os.utime(data_file, ns=(time.time_ns(), time.time_ns() + 1_000_000_000))
    assert tenants.refresh().loaded == [DEFAULT_CONDOMINIUM]
    assert tenants.current.get(DEFAULT_CONDOMINIUM).data == ["502"]
    with pytest.raises(ValueError, match="needs the default condominium"):
        TenantRegistry(None, apartments_of, BASE)


async def test_the_watcher_picks_up_a_new_condominium_within_the_interval(tenants_dir):
    tenants = registry(tenants_dir)
    reports = []

    async def seen(report):
        reports.append(report)

    watcher = TenantWatcher(tenants, 0.05, seen)
    await watcher.refresh()
    watcher.start()
    try:
        write_yaml(tenants_dir / "sabia.yaml", one_file("5ab1a000", "Edifício Sabiá", [APARTMENT]))
        deadline = time.monotonic() + 10
        while tenants.current.get("sabia") is None:
            assert time.monotonic() < deadline, "the new condominium was not picked up"
            await asyncio.sleep(0.02)
    finally:
        await watcher.stop()
    assert any(report.loaded == ["sabia"] for report in reports)


# ---- routing a call to its condominium -----------------------------------------------


def test_the_dialplan_convention_keeps_a_valid_uuid():
    # Asterisk: Set(UUID=${CONDO_CODE}${RAND_UUID:8}) with RAND_UUID=${UUID()}.
    asterisk_uuid = str(uuid.uuid4())
    built = ARARAS_CODE + asterisk_uuid[8:]
    assert str(uuid.UUID(built)) == built and uuid.UUID(built).version == 4
    assert condominium_code(built) == ARARAS_CODE
    assert condominium_code(built.upper()) == ARARAS_CODE
    assert session_id_for(ARARAS_CODE, asterisk_uuid) == built
    fresh = session_id_for("B05C0A2A")
    assert fresh.startswith(ARARAS_CODE + "-") and str(uuid.UUID(fresh)) == fresh
    assert is_condominium_code("b05c0a2a") and not is_condominium_code("B05C0A2A")
    assert not is_condominium_code("b05c0a2") and not is_condominium_code("b05c0a2g")
    with pytest.raises(ValueError, match="must be 8 hex digits"):
        session_id_for("araras")
    with pytest.raises(ValueError, match="8-4-4-4-12"):
        condominium_code("b05c0a2a")


def test_a_call_goes_to_the_condominium_of_its_code(tenants_dir):
    tenants = registry(tenants_dir)
    tenants.refresh()
    araras_call = session_id_for(ARARAS_CODE)
    assert condominium_for_session(araras_call, tenants).id == "bosque-das-araras"
    assert condominium_for_session(session_id_for(JACARANDA_CODE), tenants.current).id == "jacaranda"
    # Both legs carry the same UUID, so the resident leg routes the same way.
    assert condominium_for_session(araras_call.upper(), tenants).id == "bosque-das-araras"


def test_a_call_with_an_unknown_code_or_no_uuid_belongs_to_no_condominium(tenants_dir):
    tenants = registry(tenants_dir)
    tenants.refresh()
    assert condominium_for_session(session_id_for("00000000"), tenants) is None
    assert condominium_for_session(str(uuid.uuid4()), tenants) is None  # a dialplan without the code
    assert condominium_for_session("not-a-uuid", tenants) is None


def test_a_mapped_port_decides_before_the_code(tenants_dir):
    tenants = registry(tenants_dir)
    tenants.refresh()
    ports = parse_port_map("8080=jacaranda, 8082=bosque-das-araras,8084=gone")
    assert ports == {8080: "jacaranda", 8082: "bosque-das-araras", 8084: "gone"}
    plain_call = str(uuid.uuid4())  # a dialplan that does not set the code
    assert condominium_for_session(plain_call, tenants, port=8082, port_map=ports).id == "bosque-das-araras"
    assert (
        condominium_for_session(session_id_for(ARARAS_CODE), tenants, port=8080, port_map=ports).id
        == "jacaranda"
    )
    assert condominium_for_session(plain_call, tenants, port=8084, port_map=ports) is None  # not served
    # A port not in the map falls back to the code.
    assert condominium_for_session(session_id_for(ARARAS_CODE), tenants, port=9999, port_map=ports).id == (
        "bosque-das-araras"
    )


def test_without_a_folder_every_call_is_the_default_condominium(tmp_path):
    data_file = tmp_path / "condominio.json"
    data_file.write_text('[{"apartment_number": "501", "residents": [], "voip_number": "1"}]')
    tenants = TenantRegistry(None, apartments_of, BASE, default_condominium(BASE, data_file))
    tenants.refresh()
    assert condominium_for_session(str(uuid.uuid4()), tenants).id == DEFAULT_CONDOMINIUM
    assert condominium_for_session(session_id_for(ARARAS_CODE), tenants).id == DEFAULT_CONDOMINIUM


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("8080", "expected port=condominium"),
        ("http=apoena", "the port must be a number"),
        ("70000=apoena", "the port must be a number"),
        ("8080=Apoena Park", "is not a condominium id"),
        ("8080=a,8080=b", "port 8080 is given twice"),
    ],
)
def test_bad_port_maps_name_the_item(setting, message):
    with pytest.raises(ValueError, match=message):
        parse_port_map(setting)
    assert parse_port_map("") == {}


# ---- the bounded `condominium` metric label -----------------------------------------


def test_condominium_labels_are_bounded():
    off = CondominiumLabels("")
    assert {off("jacaranda"), off(None)} == {"-"}
    named = CondominiumLabels("jacaranda, bosque-das-araras")
    assert [named("jacaranda"), named("bosque-das-araras"), named("sabia"), named(None)] == [
        "jacaranda",
        "bosque-das-araras",
        "other",
        "unknown",
    ]
    every = CondominiumLabels("*", limit=2)
    assert [every("a"), every("b"), every("c"), every("a"), every(None)] == [
        "a",
        "b",
        "other",
        "a",
        "unknown",
    ]
    with pytest.raises(ValueError, match="not condominium ids: 'Jacarandá'"):
        CondominiumLabels("Jacarandá,sabia")
