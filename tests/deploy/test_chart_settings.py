"""The environment the chart renders is what the services' settings classes read.

Each container's env (secrets replaced by stand-ins, `$(VAR)` expanded as the kubelet
does) is loaded through the service's real settings class: a misspelt variable or a
value of the wrong type fails here instead of in a cluster.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import pytest
from pydantic_settings import BaseSettings

from porteiro_common.settings import ObservabilitySettings
from tests.deploy.chart import kubelet_env, main_container, manifests, render, values_with_inline_secrets

SETTINGS = {
    "gateway": "porteiro_gateway.settings:GatewaySettings",
    "speech": "porteiro_speech.settings:SpeechSettings",
    "concierge": "porteiro_concierge.settings:ConciergeSettings",
    "directory": "porteiro_directory.settings:DirectorySettings",
    "dialer": "porteiro_dialer.settings:DialerSettings",
}


def settings_class(component: str) -> type[BaseSettings]:
    module, name = SETTINGS[component].split(":")
    return getattr(importlib.import_module(module), name)


def accepted_names(cls: type[BaseSettings]) -> set[str]:
    prefix = cls.model_config.get("env_prefix", "")
    names = set()
    for field_name, field in cls.model_fields.items():
        names.add(f"{prefix}{field_name}".upper())
        alias = field.validation_alias
        for choice in getattr(alias, "choices", [alias] if isinstance(alias, str) else []):
            if isinstance(choice, str):
                names.add(choice.upper())
    return names


@pytest.fixture(scope="module")
def production_like_docs() -> list[dict[str, Any]]:
    values = values_with_inline_secrets()
    values["concierge"]["replicas"] = 2
    values["gateway"] = {
        "allowedNetworks": "10.20.0.0/24",
        "maxLegs": 120,
        "maxCallSeconds": 300,
        "residentReserveShare": 0.25,
        "holdingAfterSeconds": 1.5,
        "mediaBatchMs": 100,
        "synthesisCacheMb": 16,
        "edgeListening": False,
    }
    return manifests(render(values))


@pytest.mark.parametrize("component", list(SETTINGS))
def test_every_rendered_service_variable_is_a_setting(component, production_like_docs):
    cls = settings_class(component)
    prefix = cls.model_config["env_prefix"]
    env = kubelet_env(main_container(production_like_docs, component))
    rendered = {name for name in env if name.startswith(prefix)}
    assert len(rendered) >= 4
    assert rendered <= accepted_names(cls), rendered - accepted_names(cls)


@pytest.mark.parametrize("component", list(SETTINGS))
def test_the_service_loads_its_settings_from_the_rendered_env(component, production_like_docs, monkeypatch):
    env = kubelet_env(main_container(production_like_docs, component))
    for name in list(os.environ):
        if name.startswith("PORTEIRO_") or name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = settings_class(component)()
    prefix = type(settings).model_config["env_prefix"]
    assert settings.grpc_port == int(env[f"{prefix}GRPC_PORT"])
    assert settings.metrics_port == int(env[f"{prefix}METRICS_PORT"])
    assert settings.grace_period_seconds == float(env[f"{prefix}GRACE_PERIOD_SECONDS"])
    observability = ObservabilitySettings()
    assert observability.log_format == "json" and observability.trace_personal_data is False


def test_composed_urls_carry_the_secret_stand_ins(production_like_docs):
    dialer = kubelet_env(main_container(production_like_docs, "dialer"))
    assert dialer["PORTEIRO_DIALER_AMQP_URL"] == (
        "amqp://stand-in-rabbitmq-username:stand-in-rabbitmq-password@rabbitmq.pbx.svc:5672/%2F"
    )
    concierge = kubelet_env(main_container(production_like_docs, "concierge"))
    assert (
        concierge["PORTEIRO_CONCIERGE_REDIS_URL"] == "redis://:stand-in-redis-password@redis.data.svc:6379/0"
    )


def test_gateway_limits_reach_its_settings(production_like_docs, monkeypatch):
    env = kubelet_env(main_container(production_like_docs, "gateway"))
    for name in list(os.environ):
        if name.startswith("PORTEIRO_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = settings_class("gateway")()
    assert (settings.max_legs, settings.max_call_seconds) == (120, 300)
    assert (settings.resident_reserve_share, settings.holding_after_seconds) == (0.25, 1.5)
    assert (settings.media_batch_ms, settings.synthesis_cache_mb, settings.edge_listening) == (100, 16, False)
