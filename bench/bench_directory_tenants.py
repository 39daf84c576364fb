"""Many condominiums in one directory process: load time, memory per condominium, resolve latency.

Writes a tenants folder of generated fictional condominiums (default 1,000 of 200
apartments each, in 4 blocks, 1-3 residents an apartment; half as subfolders,
half as one file), loads it the way the service does (`TenantDirectories`, in
this process), then prints:

* the folder's first load time and the RSS it added (per condominium);
* tracemalloc's count of the memory one condominium's index holds (on a sample);
* a poll with nothing changed (what every reload interval costs) and a reload
  after 10 condominiums changed;
* `Directory.resolve` p50/p99 for requests spread over every condominium
  (apartment + name + block, as the concierge sends them; and name only).

Target: resolve p99 <= 1 ms in process with 1,000 condominiums loaded.

    .venv/bin/python bench/bench_directory_tenants.py [--condominiums 1000] [--apartments 200] [--requests 5000]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_directory import FIRST_NAMES, SURNAMES, spoken  # noqa: E402

from porteiro_directory.matching import Directory, Thresholds  # noqa: E402
from porteiro_directory.tenants import TenantDirectories  # noqa: E402

BLOCKS = ("A", "B", "C", "D")
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml: writing 500 YAML files is slow otherwise


def condominium_data(index: int, apartments: int) -> list[dict]:
    """`apartments` apartments over 4 blocks, floors of 10, 1-3 residents each (fictional names)."""
    rng = random.Random(index)
    data = []
    for position in range(apartments):
        block = BLOCKS[position % len(BLOCKS)]
        floor, unit = divmod(position // len(BLOCKS), 10)
        number = f"{floor + 1}{unit + 1:02d}"
        residents = [
            f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)} {rng.choice(SURNAMES)}"
            for _ in range(rng.choice((1, 2, 2, 3)))
        ]
        data.append(
            {
                "number": number,
                "block": block,
                "destination": f"sip:{index}-{block}{number}@condominio.test",
                "residents": residents,
            }
        )
    return data


def write_folder(folder: Path, condominiums: int, apartments: int) -> dict[str, list[dict]]:
    written = {}
    for index in range(condominiums):
        tenant_id = f"condominio-{index:04d}"
        data = condominium_data(index, apartments)
        settings = {"code": f"{index + 1:08x}", "name": f"Condomínio Teste {index}"}
        if index % 2:
            (folder / f"{tenant_id}.yaml").write_text(
                yaml.dump({**settings, "apartments": data}, Dumper=DUMPER, allow_unicode=True),
                encoding="utf-8",
            )
        else:
            (folder / tenant_id).mkdir()
            (folder / tenant_id / "condominium.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
            (folder / tenant_id / "directory.json").write_text(json.dumps(data), encoding="utf-8")
        written[tenant_id] = data
    return written


def rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def requests(written: dict[str, list[dict]], count: int, seed: int = 11) -> tuple[list[tuple], list[tuple]]:
    rng = random.Random(seed)
    ids = list(written)
    with_apartment, name_only = [], []
    for _ in range(count):
        tenant_id = rng.choice(ids)
        apartment = rng.choice(written[tenant_id])
        resident = rng.choice(apartment["residents"]).split()
        heard = rng.choice([apartment["number"], spoken(apartment["number"])])
        name = rng.choice([resident[0], f"dona {resident[0]} {resident[-1]}", " ".join(resident)])
        with_apartment.append((tenant_id, heard, name, apartment["block"]))
        name_only.append((tenant_id, "", " ".join(resident), apartment["block"]))
    return with_apartment, name_only


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return f"p50 {p50:6.3f} ms   p99 {p99:6.3f} ms   (n={len(ordered)})"


def time_resolve(tenants: TenantDirectories, cases: list[tuple]) -> tuple[list[float], list[float]]:
    """Each request as the servicer does it: look the condominium up, then resolve.

    Returns wall-clock and this thread's CPU time per request: on a shared, loaded
    machine the wall clock also counts the time the process waited for a CPU."""
    for tenant_id, apartment, name, block in cases[:200]:  # warm-up
        tenant = tenants.get(tenant_id)
        assert tenant is not None
        tenant.data.resolve(apartment, name, block)
    wall, cpu = [], []
    for tenant_id, apartment, name, block in cases:
        began, began_cpu = time.perf_counter(), time.thread_time()
        tenant = tenants.get(tenant_id)
        assert tenant is not None
        tenant.data.resolve(apartment, name, block)
        cpu.append(time.thread_time() - began_cpu)
        wall.append(time.perf_counter() - began)
    return wall, cpu


def traced_bytes_per_condominium(written: dict[str, list[dict]], sample: int) -> float:
    """tracemalloc's count of what one condominium's parsed and indexed data holds."""
    from porteiro_directory.data import parse_apartments

    documents = list(written.values())[:sample]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [Directory(parse_apartments(document), Thresholds()) for document in documents]
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del kept
    return held / len(documents)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--condominiums", type=int, default=1000)
    parser.add_argument("--apartments", type=int, default=200)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument(
        "--traced-sample", type=int, default=20, help="condominiums measured with tracemalloc"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary) / "tenants"
        folder.mkdir()
        began = time.perf_counter()
        written = write_folder(folder, args.condominiums, args.apartments)
        residents = sum(len(a["residents"]) for data in written.values() for a in data)
        print(
            f"{args.condominiums} condominiums x {args.apartments} apartments "
            f"({residents} residents, {residents / args.condominiums:.0f} a condominium), "
            f"written in {time.perf_counter() - began:.1f} s; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        gc.collect()
        rss_before = rss_bytes()
        tenants = TenantDirectories(folder, Thresholds())
        began = time.perf_counter()
        report = tenants.registry.refresh()
        load_seconds = time.perf_counter() - began
        tenants.counted(report)  # as the service does: gc.freeze() after a load
        assert not report.failed, report.failed
        added = rss_bytes() - rss_before
        print(
            f"first load        : {load_seconds:6.1f} s ({load_seconds / args.condominiums * 1000:.1f} ms a condominium), "
            f"{len(tenants.registry.current)} served"
        )
        print(
            f"memory (RSS delta): {added / 2**20:6.0f} MiB in all, "
            f"{added / args.condominiums / 1024:.0f} KiB a condominium"
        )
        began = time.perf_counter()
        idle = tenants.registry.refresh()
        print(
            f"poll, no change   : {(time.perf_counter() - began) * 1000:6.0f} ms (stat of every tenant's files)"
        )
        assert not idle.changed
        for tenant_id in list(written)[:20:2]:  # ten of the subfolder form
            data = condominium_data(len(written) + random.randrange(10**6), args.apartments)
            (folder / tenant_id / "directory.json").write_text(json.dumps(data), encoding="utf-8")
            written[tenant_id] = data
        began = time.perf_counter()
        changed = tenants.registry.refresh()
        print(
            f"reload, 10 changed: {(time.perf_counter() - began) * 1000:6.0f} ms "
            f"({len(changed.loaded)} reloaded, the rest untouched)"
        )
        with_apartment, name_only = requests(written, args.requests)
        for label, cases in (
            ("apartment + name + block", with_apartment),
            ("name only (+ block)     ", name_only),
        ):
            wall, cpu = time_resolve(tenants, cases)
            print(f"resolve {label} wall: {percentiles(wall)}")
            print(f"resolve {label} CPU : {percentiles(cpu)}")
        print(f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        traced = traced_bytes_per_condominium(written, min(args.traced_sample, args.condominiums))
        print(
            f"memory (tracemalloc, parsed + indexed, {args.traced_sample} condominiums): "
            f"{traced / 1024:.0f} KiB a condominium"
        )
    print("target: resolve p99 <= 1 ms in process with 1,000 condominiums of 200 apartments loaded")


if __name__ == "__main__":
    main()
