"""Latency of the on-create duplicate check against a large SQLite store.

Fills a SQLite store (keyed with :func:`crmcore.dedup.blocking_keys`) with
``N`` synthetic customers once (kept at ``--db`` for later runs), then times
:func:`crmcore.dedup.check_duplicates` for candidates that duplicate a stored
customer (same name and phone, another email) and for new ones. The raw
baseline, measured in the same run, is one indexed ``find_by_email`` lookup per
candidate. Besides wall time it prints the check's CPU time: on a machine
shared with other work, a check that waits for a core takes a scheduler time
slice (about 4 ms) longer. The database file is read once before timing, as
the pages of a store in use sit in the OS cache.

    python benchmarks/bench_check_duplicates.py [--count 1000000] [--db PATH]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from crmcore import Customer, EmailAddress, PersonName, PhoneNumber
from crmcore.dedup import blocking_keys, check_duplicates
from crmcore.storage import SQLiteStore

_GIVEN = [
    "Anna",
    "Karl",
    "Eva",
    "Olof",
    "Maja",
    "Nils",
    "Ida",
    "Sven",
    "Robert",
    "William",
    "Elizabeth",
    "James",
    "Maria",
    "Jan",
    "Pieter",
    "Budi",
    "Siti",
    "Agus",
    "Dewi",
    "Putri",
    "Jürgen",
    "Lena",
    "Lukas",
    "Felix",
    "Emma",
    "Noah",
    "Liam",
    "Olivia",
    "Sofia",
    "Erik",
]
_SYLLABLES = [
    "ka",
    "ri",
    "na",
    "so",
    "to",
    "mi",
    "be",
    "ran",
    "der",
    "berg",
    "son",
    "man",
    "lin",
    "ström",
    "gren",
    "dah",
    "wi",
    "ja",
    "ya",
    "sa",
    "pu",
    "tra",
    "ko",
]


def _family(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()


def _name(i: int) -> tuple[str, str]:
    rng = random.Random(i)
    return rng.choice(_GIVEN), _family(rng)


def _customers(count: int) -> Iterator[Customer]:
    for i in range(count):
        given, family = _name(i)
        local = f"{given}.{family}{i}".lower()
        yield Customer.create(
            name=PersonName(given=given, family=family),
            emails=[EmailAddress(f"{local}@example.org", f"{local}@example.org")],
            phones=[PhoneNumber(f"+4670{i:07d}")],
        )


def fill(db: Path, count: int) -> None:
    """Create the store at ``db`` with ``count`` customers (skipped when it exists)."""
    if db.exists():
        return
    started = time.perf_counter()
    with SQLiteStore(db, key_function=blocking_keys) as store:
        batch: list[Customer] = []
        for customer in _customers(count):
            batch.append(customer)
            if len(batch) == 5_000:
                store.customers.add_many(batch)
                batch.clear()
        if batch:
            store.customers.add_many(batch)
    print(f"filled {count} customers in {time.perf_counter() - started:.0f}s", file=sys.stderr)


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000


def main() -> int:
    """Fill (once) and time; print p50/p95 in milliseconds and the ratio to the baseline."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=Path("check-duplicates-bench.db"))
    parser.add_argument("--samples", type=int, default=400)
    args = parser.parse_args()
    fill(args.db, args.count)
    # A store in use has its pages in the OS cache; read the file once so that
    # the figures measure crmcore and SQLite, not the disk.
    with args.db.open("rb") as handle:
        while handle.read(1 << 24):
            pass
    rng = random.Random(2)
    candidates: list[Customer] = []
    for k in range(args.samples):
        i = rng.randrange(args.count)
        if k % 2 == 0:
            # A duplicate of stored customer i: same phone, another email.
            given, family = _name(i)
            name = PersonName(given=given, family=family)
            candidates.append(
                Customer.create(
                    name=name, emails=[f"new{k}@example.net"], phones=[PhoneNumber(f"+4670{i:07d}")]
                )
            )
        else:
            candidates.append(
                Customer.create(
                    name=f"{rng.choice(_GIVEN)} {_family(rng)}", emails=[f"fresh{k}@example.net"]
                )
            )
    with SQLiteStore(args.db, key_function=blocking_keys) as store:
        for candidate in candidates[:20]:  # warm the page cache
            check_duplicates(candidate, store)
        checks, cpu, lookups, found = [], [], [], 0
        for candidate in candidates:
            t0 = time.perf_counter()
            c0 = time.thread_time()
            matches = check_duplicates(candidate, store)
            cpu.append(time.thread_time() - c0)
            checks.append(time.perf_counter() - t0)
            found += bool(matches)
            t1 = time.perf_counter()
            store.customers.find_by_email(candidate.emails[0].address)
            lookups.append(time.perf_counter() - t1)
    print(
        f"check_duplicates over {args.count} customers: p50={_p(checks, 50):.2f}ms "
        f"p95={_p(checks, 95):.2f}ms (CPU time p95={_p(cpu, 95):.2f}ms, without waits for "
        f"a core); baseline find_by_email p95={_p(lookups, 95):.2f}ms; "
        f"ratio={_p(checks, 95) / _p(lookups, 95):.1f}x; candidates with matches: {found}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
