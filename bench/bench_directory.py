"""Directory resolve latency with 10,000 synthetic residents.

Prints p50/p99 of `Directory.resolve` in-process and of the Resolve RPC over
gRPC on loopback (a real `python -m porteiro_directory` process), for the usual
request (apartment + name, as the concierge sends it) and for a name alone
(searched across the whole condominium). Targets: p99 <= 1 ms in-process,
<= 3 ms over gRPC.

    .venv/bin/python bench/bench_directory.py [--residents 10000] [--requests 2000]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from porteiro.directory.v1 import directory_pb2, directory_pb2_grpc
from porteiro_common.ptbr.numbers import HUNDREDS, TENS, UNITS
from porteiro_directory.data import parse_apartments
from porteiro_directory.matching import Directory

FIRST_NAMES = (
    "Ana Beatriz Bruna Camila Carla Daniela Eduarda Fernanda Gabriela Helena Isabela Juliana Larissa "
    "Leticia Luana Mariana Marina Natalia Patricia Paula Rafaela Renata Sabrina Tatiana Vanessa "
    "Adriano Bruno Carlos Daniel Diego Eduardo Felipe Gabriel Gustavo Henrique Igor Joao Jorge Lucas "
    "Marcelo Marcos Mateus Paulo Pedro Rafael Renato Ricardo Rodrigo Thiago Vinicius"
).split()
SURNAMES = (
    "Silva Santos Oliveira Souza Rodrigues Ferreira Alves Pereira Lima Gomes Costa Ribeiro Martins "
    "Carvalho Almeida Lopes Soares Fernandes Vieira Barbosa Rocha Dias Nascimento Andrade Moreira "
    "Nunes Marques Machado Mendes Freitas Cardoso Ramos Goncalves Santana Teixeira Moura Barros"
).split()
SPOKEN_UNITS = {value: word for word, value in UNITS.items() if word not in ("uma", "duas", "meia")}
SPOKEN_TENS = {value: word for word, value in TENS.items() if word != "cincoenta"}
SPOKEN_HUNDREDS = {value: word for word, value in HUNDREDS.items() if word.endswith(("os", "cento"))}


def synthetic_condominium(residents: int, seed: int = 7) -> list[dict]:
    """Towers 1-10, floors 1-25, 16 apartments a floor, 2-3 residents each."""
    rng = random.Random(seed)
    apartments, count = [], 0
    for tower in range(1, 11):
        for floor in range(1, 26):
            for unit in range(1, 17):
                if count >= residents:
                    return apartments
                names = []
                for _ in range(min(rng.choice((2, 3)), residents - count)):
                    first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
                    names.append({"name": f"{first} {rng.choice(SURNAMES)} {last}", "aliases": []})
                count += len(names)
                apartments.append(
                    {
                        "number": f"{floor}{unit:02d}",
                        "tower": str(tower),
                        "destination": f"sip:{tower}-{floor}{unit:02d}@condominio.test",
                        "residents": names,
                    }
                )
    return apartments


def spoken(number: str) -> str:
    """'1205' -> 'mil duzentos e cinco'-like words (hundreds < 1000), else digit dictation."""
    value = int(number)
    if value >= 1000:
        return " ".join(SPOKEN_UNITS.get(int(d), "zero") for d in number)
    parts = []
    if value // 100:
        parts.append("cem" if value == 100 else SPOKEN_HUNDREDS[value // 100 * 100])
    rest = value % 100
    if rest >= 20:
        parts.append(SPOKEN_TENS[rest // 10 * 10])
        rest %= 10
    if rest:
        parts.append(SPOKEN_UNITS[rest] if rest < 10 else str(rest))
    return " e ".join(parts)


def requests(data: list[dict], count: int, seed: int = 11) -> tuple[list[tuple], list[tuple]]:
    rng = random.Random(seed)
    with_apartment, name_only = [], []
    for _ in range(count):
        apartment = rng.choice(data)
        resident = rng.choice(apartment["residents"])["name"].split()
        heard = rng.choice([apartment["number"], spoken(apartment["number"])])
        name = rng.choice([resident[0], f"dona {resident[0]} {resident[-1]}", " ".join(resident)])
        with_apartment.append((heard, name, apartment["tower"]))
        name_only.append(("", f"{resident[0]} {resident[1]} {resident[-1]}", apartment["tower"]))
    return with_apartment, name_only


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return f"p50 {p50:7.3f} ms   p99 {p99:7.3f} ms   (n={len(ordered)})"


def time_in_process(directory: Directory, cases: list[tuple]) -> list[float]:
    for apartment, name, block in cases[:200]:  # warm-up
        directory.resolve(apartment, name, block)
    samples = []
    for apartment, name, block in cases:
        began = time.perf_counter()
        directory.resolve(apartment, name, block)
        samples.append(time.perf_counter() - began)
    return samples


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(data_file: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTEIRO_", "OTEL_"))}
    env.update(
        {
            "PORTEIRO_DIRECTORY_GRPC_HOST": "127.0.0.1",
            "PORTEIRO_DIRECTORY_GRPC_PORT": str(port),
            "PORTEIRO_DIRECTORY_METRICS_HOST": "127.0.0.1",
            "PORTEIRO_DIRECTORY_METRICS_PORT": str(free_port()),
            "PORTEIRO_DIRECTORY_DATA_FILE": str(data_file),
            "PORTEIRO_LOG_LEVEL": "WARNING",
        }
    )
    process = subprocess.Popen([sys.executable, "-m", "porteiro_directory"], env=env)
    target = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    with grpc.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                    return process, target
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    process.kill()
    raise SystemExit("directory service did not become SERVING")


def time_over_grpc(target: str, cases: list[tuple]) -> list[float]:
    samples = []
    with grpc.insecure_channel(target) as channel:
        stub = directory_pb2_grpc.DirectoryServiceStub(channel)
        for apartment, name, block in cases[:50]:  # warm-up
            stub.Resolve(directory_pb2.ResolveRequest(apartment=apartment, resident_name=name, block=block))
        for apartment, name, block in cases:
            request = directory_pb2.ResolveRequest(apartment=apartment, resident_name=name, block=block)
            began = time.perf_counter()
            stub.Resolve(request, timeout=5)
            samples.append(time.perf_counter() - began)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=2_000)
    args = parser.parse_args()
    data = synthetic_condominium(args.residents)
    began = time.perf_counter()
    directory = Directory(parse_apartments(data))
    gc.freeze()  # as the service does after a load: the index is long-lived
    print(
        f"{directory.resident_count} residents in {len(data)} apartments, "
        f"indexed in {(time.perf_counter() - began) * 1000:.0f} ms; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    with_apartment, name_only = requests(data, args.requests)
    print(f"in-process  apartment + name : {percentiles(time_in_process(directory, with_apartment))}")
    print(f"in-process  name only        : {percentiles(time_in_process(directory, name_only))}")
    with tempfile.TemporaryDirectory() as folder:
        data_file = Path(folder) / "condominio.json"
        data_file.write_text(json.dumps(data), encoding="utf-8")
        process, target = start_server(data_file)
        try:
            print(f"gRPC        apartment + name : {percentiles(time_over_grpc(target, with_apartment))}")
            print(f"gRPC        name only        : {percentiles(time_over_grpc(target, name_only))}")
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    print("targets: p99 <= 1 ms in-process, <= 3 ms over gRPC (apartment + name)")


if __name__ == "__main__":
    main()
