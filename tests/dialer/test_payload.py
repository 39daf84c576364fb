"""The click-to-call payload, command ids, request validation and the idempotency map."""

from __future__ import annotations

import json

import pytest

from porteiro_dialer.errors import InvalidCallRequest
from porteiro_dialer.idempotency import MemoryIdempotencyStore, PublishedCommand
from porteiro_dialer.payload import PayloadConfig, build_clicktocall, command_id, encode
from porteiro_dialer.placer import CallRequest, validate

SESSION = "0f8fad5b-d9cb-469f-a165-70867728950e"
CONFIG = PayloadConfig(license="123456789012", event_code="8001", destiny="IA")


def test_payload_has_the_prototype_shape():
    payload = build_clicktocall(
        CONFIG, session_id=SESSION, destination="1001", attempt=1, note="", timestamp=1795317584
    )
    assert payload == {
        "data": {"destiny": "IA", "guid": SESSION, "license": "123456789012", "origin": "1001"},
        "operation": {
            "eventcode": "8001",
            "guid": f"cmd-{SESSION}",
            "msg": "",
            "timestamp": 1795317584,
            "type": "clicktocall",
        },
    }
    assert json.loads(encode(payload)) == payload


def test_retries_get_their_own_command_id_but_keep_the_session_guid():
    ids = [command_id(SESSION, attempt) for attempt in (1, 2, 3)]
    assert ids == [f"cmd-{SESSION}", f"cmd-{SESSION}-2", f"cmd-{SESSION}-3"]
    retry = build_clicktocall(CONFIG, session_id=SESSION, destination="1001", attempt=2, note="", timestamp=1)
    assert retry["data"]["guid"] == SESSION and retry["operation"]["guid"] == f"cmd-{SESSION}-2"


def test_validation_canonicalises_session_and_trims_destination():
    request = validate(CallRequest(f"  {SESSION.upper()} ", " 1001 ", 1, "note"))
    assert request == CallRequest(SESSION, "1001", 1, "note")


@pytest.mark.parametrize(
    ("session_id", "destination", "attempt", "complaint"),
    [
        (SESSION, "", 1, "destination"),
        (SESSION, "   ", 1, "destination"),
        ("not-a-uuid", "1001", 1, "session_id"),
        ("", "1001", 1, "session_id"),
        (SESSION.replace("-", ""), "1001", 1, "session_id"),
        (SESSION, "1001", 0, "attempt"),
    ],
)
def test_invalid_requests_are_refused_naming_the_field(session_id, destination, attempt, complaint):
    with pytest.raises(InvalidCallRequest, match=complaint):
        validate(CallRequest(session_id, destination, attempt))


async def test_memory_store_forgets_after_its_ttl():
    now = [100.0]
    store = MemoryIdempotencyStore(ttl_seconds=60, clock=lambda: now[0])
    first = PublishedCommand("cmd-a", 1.0)
    await store.put((SESSION, 1), first)
    await store.put((SESSION, 1), PublishedCommand("cmd-b", 2.0))  # first one wins
    assert await store.get((SESSION, 1)) == first
    assert await store.get((SESSION, 2)) is None
    now[0] += 61
    assert await store.get((SESSION, 1)) is None
    assert len(store) == 0
