from __future__ import annotations

import pytest
from pydantic_settings import SettingsConfigDict

from porteiro_common.ids import canonical_session_id, session_id_from_bytes
from porteiro_common.redaction import REDACTED, Redactor
from porteiro_common.settings import ServiceSettings, load_settings


class ExampleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PORTEIRO_EXAMPLE_", extra="ignore")
    required_url: str


def test_missing_required_setting_names_the_variable(monkeypatch, capsys):
    monkeypatch.delenv("PORTEIRO_EXAMPLE_REQUIRED_URL", raising=False)
    with pytest.raises(SystemExit) as stopped:
        load_settings(ExampleSettings)
    assert stopped.value.code == 2
    assert "PORTEIRO_EXAMPLE_REQUIRED_URL" in capsys.readouterr().err


def test_settings_read_with_their_prefix(monkeypatch):
    monkeypatch.setenv("PORTEIRO_EXAMPLE_REQUIRED_URL", "amqp://broker")
    monkeypatch.setenv("PORTEIRO_EXAMPLE_GRPC_PORT", "6000")
    settings = load_settings(ExampleSettings)
    assert settings.grpc_port == 6000 and settings.required_url == "amqp://broker"


def test_session_ids_are_canonical():
    raw = bytes(range(16))
    text = session_id_from_bytes(raw)
    assert text == "00010203-0405-0607-0809-0a0b0c0d0e0f"
    assert canonical_session_id(text.upper()) == text
    with pytest.raises(ValueError):
        canonical_session_id("not-a-uuid")


def test_redactor_hides_personal_data_unless_enabled():
    assert Redactor(False)("Renata Oliveira") == REDACTED
    assert Redactor(True)("Renata Oliveira") == "Renata Oliveira"
    assert Redactor(False)("") == ""


class SecretSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PORTEIRO_EXAMPLE_", extra="ignore")
    amqp_url: int = 0  # an int so that any URL fails validation


def test_invalid_secret_setting_is_named_but_never_echoed(monkeypatch, capsys):
    monkeypatch.setenv("PORTEIRO_EXAMPLE_AMQP_URL", "amqp://user:hunter2@broker/")
    with pytest.raises(SystemExit):
        load_settings(SecretSettings)
    err = capsys.readouterr().err
    assert "PORTEIRO_EXAMPLE_AMQP_URL" in err and "hunter2" not in err


def test_llm_library_logs_are_redacted_unless_personal_data_enabled(capsys):
    import logging

    from porteiro_common.logs import configure_logging
    from porteiro_common.settings import ObservabilitySettings

    configure_logging("test", ObservabilitySettings(log_format="text"))
    logging.getLogger("openai._base_client").error("call failed: input_value='Renata Oliveira'")
    logging.getLogger("porteiro_concierge").warning("turn done")
    err = capsys.readouterr().err
    assert "Renata" not in err and "details redacted" in err and "turn done" in err
    configure_logging("test", ObservabilitySettings(log_format="text", trace_personal_data=True))
    logging.getLogger("openai._base_client").error("call failed: input_value='Renata Oliveira'")
    assert "Renata" in capsys.readouterr().err


def test_ports_file_setting_collects_one_line_per_listener(monkeypatch, tmp_path):
    from porteiro_common.listening import read_ports, report_listening

    ports_file = tmp_path / "ports"
    monkeypatch.setenv("PORTEIRO_EXAMPLE_REQUIRED_URL", "amqp://broker")
    monkeypatch.setenv("PORTEIRO_EXAMPLE_PORTS_FILE", str(ports_file))
    settings = load_settings(ExampleSettings)
    assert read_ports(settings.ports_file) == {}  # nothing reported yet: no file
    report_listening(settings.ports_file, "grpc", 50731)
    report_listening(settings.ports_file, "metrics", 9464)
    with ports_file.open("a") as out:
        out.write('{"listener": "visitor", "po')  # a line still being written is not read
    assert read_ports(ports_file) == {"grpc": 50731, "metrics": 9464}
