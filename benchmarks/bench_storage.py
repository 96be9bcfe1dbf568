"""Storage benchmarks: SQLiteStore against raw sqlite3, and InMemoryStore's footprint.

1. ``add_many``: 100,000 customers into a SQLiteStore file, against the raw
   baseline an app would write by hand: ``sqlite3.executemany`` of the same
   JSON documents (crmcore's ``to_json``) into an ``(id, doc)`` table in one
   transaction, with the same journal settings. The baseline's time includes
   serialising the documents (every JSON document store pays it); the ratio
   against the bare insert is printed too. Target: ratio <= 2.
2. ``find_by_email``: the median time of one lookup with 10,000 and with
   1,000,000 customers stored. Targets: median <= 0.2 ms and the ratio of the
   two medians <= 2 (an index, not a scan).
3. ``memory``: the resident set size of a process holding an InMemoryStore with
   1,000,000 customers (measured in a fresh child process). Target: < 2 GiB.

Customers are built cheaply from a template with ``attrs.evolve`` (new id,
email and phone each): building a million through ``Customer.create`` would
take minutes of parsing that is not what is measured here.

Run: ``.venv/bin/python benchmarks/bench_storage.py`` (the real sizes; several
minutes) or with ``--small`` (a tenth of every size) or ``--only add_many``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path

import attrs

from crmcore import Customer, to_json
from crmcore.contacts import ContactEmail, ContactPhone
from crmcore.ids import new_customer_id
from crmcore.storage import InMemoryStore, SQLiteStore
from crmcore.values import ContactLabel, EmailAddress, PhoneNumber

_TEMPLATE = Customer.create(
    name="Ada Lovelace",
    emails=["ada@example.com"],
    phones=["+46701234567"],
    tags=["vip"],
    identifiers={"crm": "C-1"},
    owner="usr_anna",
)


def make_customers(count: int, start: int = 0) -> Iterator[Customer]:
    """Distinct customers (id, email, phone, identifier) from one template."""
    for i in range(start, start + count):
        address = f"person.{i}@example.com"
        yield attrs.evolve(
            _TEMPLATE,
            id=new_customer_id(),
            emails=(ContactEmail(EmailAddress(address, address), ContactLabel.WORK),),
            phones=(ContactPhone(PhoneNumber.from_e164(f"+467{i:08d}")),),
            identifiers=_TEMPLATE.identifiers.parse({"crm": f"C-{i}"}),
        )


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one call (CPU time is steadier on a shared machine)."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def _raw_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE customers (id TEXT PRIMARY KEY, doc TEXT NOT NULL)")
    return conn


def _executemany(conn: sqlite3.Connection, docs: Sequence[tuple[str, str]]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT INTO customers (id, doc) VALUES (?, ?)", docs)
    conn.execute("COMMIT")


def _serialise_and_insert(conn: sqlite3.Connection, customers: list[Customer]) -> None:
    _executemany(conn, [(c.id, to_json(c)) for c in customers])


def bench_add_many(count: int, repeats: int) -> dict[str, float]:
    """add_many into SQLiteStore vs raw executemany of the same JSON, best of ``repeats``."""
    customers = list(make_customers(count))
    ours: list[tuple[float, float]] = []
    raw: list[tuple[float, float]] = []
    bare: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for attempt in range(repeats):
            # Interleaved, so that a burst of load on the machine hits all three alike.
            conn = _raw_connection(Path(tmp) / f"raw{attempt}.db")
            raw.append(_timed(partial(_serialise_and_insert, conn, customers)))
            conn.close()
            docs = [(c.id, to_json(c)) for c in customers]
            conn = _raw_connection(Path(tmp) / f"bare{attempt}.db")
            bare.append(_timed(partial(_executemany, conn, docs)))
            conn.close()
            with SQLiteStore(Path(tmp) / f"store{attempt}.db") as store:
                ours.append(_timed(partial(store.customers.add_many, customers)))
                assert store.customers.count() == count
    result: dict[str, float] = {"count": count}
    for name, runs in (("store", ours), ("raw", raw), ("bare", bare)):
        result[f"{name}_wall_s"] = min(w for w, _ in runs)
        result[f"{name}_cpu_s"] = min(c for _, c in runs)
    result["ratio"] = result["store_wall_s"] / result["raw_wall_s"]
    result["ratio_cpu"] = result["store_cpu_s"] / result["raw_cpu_s"]
    result["ratio_vs_insert_only"] = result["store_wall_s"] / result["bare_wall_s"]
    return result


def _lookup_median(store: SQLiteStore, stored: int, queries: int) -> float:
    rng = random.Random(stored)
    picks = rng.sample(range(stored), min(queries, stored))
    times = []
    for i in picks:
        email = f"person.{i}@example.com"
        start = time.perf_counter()
        found = store.customers.find_by_email(email)
        times.append(time.perf_counter() - start)
        assert len(found) == 1
    return statistics.median(times)


def bench_find_by_email(small: int, large: int, queries: int) -> dict[str, float]:
    """Median find_by_email time with ``small`` and ``large`` customers stored."""
    result: dict[str, float] = {"small": small, "large": large, "queries": queries}
    with tempfile.TemporaryDirectory() as tmp, SQLiteStore(Path(tmp) / "lookups.db") as store:
        added = 0
        for target, name in ((small, "small"), (large, "large")):
            while added < target:
                batch = min(100_000, target - added)
                store.customers.add_many(make_customers(batch, start=added))
                added += batch
            result[f"median_{name}_ms"] = _lookup_median(store, added, queries) * 1_000
    result["ratio"] = result["median_large_ms"] / result["median_small_ms"]
    return result


def _rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def memory_child(count: int) -> None:
    """Fill an InMemoryStore in this (fresh) process and print the RSS before and after."""
    before = _rss_bytes()
    store = InMemoryStore()
    added = 0
    while added < count:
        batch = min(50_000, count - added)
        store.customers.add_many(make_customers(batch, start=added))
        added += batch
    gc.collect()
    after = _rss_bytes()
    assert store.customers.find_by_email(f"person.{count - 1}@example.com")
    print(json.dumps({"count": count, "rss_before": before, "rss_after": after}))


def bench_memory(count: int) -> dict[str, float]:
    """Run :func:`memory_child` in a fresh interpreter so nothing else inflates the RSS."""
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(count)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    data: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    data["rss_gib"] = data["rss_after"] / 2**30
    data["bytes_per_customer"] = (data["rss_after"] - data["rss_before"]) / count
    return data


def main() -> None:
    """Parse the arguments and print each benchmark's figures and ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="a tenth of every size")
    parser.add_argument("--only", choices=["add_many", "find_by_email", "memory"])
    parser.add_argument("--repeats", type=int, default=3, help="add_many: best of N")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    scale = 10 if args.small else 1
    print(f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, pid {os.getpid()}")
    if args.only in (None, "add_many"):
        r = bench_add_many(100_000 // scale, args.repeats)
        print(
            f"add_many {r['count']:,.0f}: store {r['store_wall_s']:.2f} s "
            f"(cpu {r['store_cpu_s']:.2f}), raw to_json+executemany {r['raw_wall_s']:.2f} s "
            f"(cpu {r['raw_cpu_s']:.2f}) -> ratio {r['ratio']:.2f}, cpu {r['ratio_cpu']:.2f} "
            f"(target <= 2); executemany of ready JSON alone {r['bare_wall_s']:.2f} s -> "
            f"{r['ratio_vs_insert_only']:.2f}"
        )
    if args.only in (None, "find_by_email"):
        r = bench_find_by_email(10_000 // scale, 1_000_000 // scale, 2_000)
        print(
            f"find_by_email median: {r['median_small_ms']:.3f} ms with {r['small']:,}, "
            f"{r['median_large_ms']:.3f} ms with {r['large']:,} -> ratio {r['ratio']:.2f} "
            "(targets: <= 0.2 ms, ratio <= 2)"
        )
    if args.only in (None, "memory"):
        r = bench_memory(1_000_000 // scale)
        print(
            f"InMemoryStore with {r['count']:,.0f} customers: RSS {r['rss_gib']:.2f} GiB "
            f"({r['bytes_per_customer']:,.0f} bytes per customer; target < 2 GiB)"
        )


if __name__ == "__main__":
    main()
