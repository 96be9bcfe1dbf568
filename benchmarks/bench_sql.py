"""SQLStore benchmarks on a real PostgreSQL, against SQLiteStore and raw psycopg, in one run.

1. ``add_many`` of ``--customers`` (100,000) customers into a SQLStore on
   PostgreSQL, against the SQLiteStore file and against raw psycopg writing the
   same JSON documents (crmcore's ``to_json``) into an ``(id text primary key,
   doc jsonb)`` table in one transaction: ``executemany`` and ``COPY``. The raw
   times include serialising the documents. Goal: within 2x of executemany.
2. ``find_by_email``: the median of one lookup with 10,000 and with
   ``--rows`` (1,000,000) customers stored. Goals: median < 1 ms, flat.
3. ``check_duplicates`` p95 with ``--rows`` customers stored (the store keyed
   with :func:`crmcore.dedup.blocking_keys`). Goal: < 5 ms.
4. The duplicate guard's two ways to be atomic across workers, with 4
   threads creating different people: transaction-scoped advisory locks on the
   selective keys (READ COMMITTED) against SERIALIZABLE transactions retried
   on serialisation failures.

The server is a throwaway cluster started from the dev group's binaries
(``tests/storage/sql/cluster.py``), or ``--url`` for one of your own.

Run: ``.venv/bin/python benchmarks/bench_sql.py`` (the real sizes: long on a
small machine) or ``--small`` (10,000 customers, 100,000 rows).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from sqlalchemy import create_engine, text
from tests.storage.sql.cluster import Cluster, find_bindir

from benchmarks.bench_check_duplicates import _customers, _name
from benchmarks.bench_storage import make_customers
from crmcore import Customer, to_json
from crmcore.dedup import (
    DuplicatePolicy,
    blocking_keys,
    check_duplicates,
    guard_duplicates,
    selective_keys,
)
from crmcore.errors import OperationalError
from crmcore.storage import SQLiteStore
from crmcore.storage.sql import SQLStore


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _ms(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000


def _raw(dsn: str, docs: list[tuple[str, str]], copy: bool) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute("DROP TABLE IF EXISTS raw_docs")
        conn.execute("CREATE TABLE raw_docs (id text PRIMARY KEY, doc jsonb NOT NULL)")
        conn.commit()
        rows = [(i, d) for i, d in docs]
        with conn.cursor() as cur:
            if copy:
                with cur.copy("COPY raw_docs (id, doc) FROM STDIN") as out:
                    for row in rows:
                        out.write_row(row)
            else:
                cur.executemany("INSERT INTO raw_docs (id, doc) VALUES (%s, %s)", rows)
        conn.commit()


def bench_add_many(url: str, dsn: str, count: int) -> None:
    customers = list(make_customers(count))
    engine = create_engine(url)
    store = SQLStore(engine)
    store.create_all()
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE crm_customers, crm_customer_keys"))
    ours = _timed(lambda: store.customers.add_many(customers))
    executemany = _timed(lambda: _raw(dsn, [(c.id, to_json(c)) for c in customers], False))
    copy = _timed(lambda: _raw(dsn, [(c.id, to_json(c)) for c in customers], True))
    with tempfile.TemporaryDirectory() as tmp, SQLiteStore(Path(tmp) / "b.db") as lite:
        sqlite = _timed(lambda: lite.customers.add_many(customers))
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE crm_customers, crm_customer_keys"))
        conn.execute(text("DROP TABLE raw_docs"))
    engine.dispose()
    print(
        f"add_many {count}: SQLStore/PostgreSQL {ours:.2f}s, SQLiteStore {sqlite:.2f}s, "
        f"raw executemany {executemany:.2f}s, raw COPY {copy:.2f}s; "
        f"ratio vs executemany {ours / executemany:.2f}x (goal <= 2), vs COPY {ours / copy:.2f}x"
    )


def _fill(store: SQLStore, start: int, stop: int) -> None:
    batch: list[Customer] = []
    for i, customer in enumerate(_customers(stop)):
        if i < start:
            continue
        batch.append(customer)
        if len(batch) == 10_000:
            store.customers.add_many(batch)
            batch.clear()
    if batch:
        store.customers.add_many(batch)


def _email(i: int) -> str:
    given, family = _name(i)
    return f"{given}.{family}{i}".lower() + "@example.org"


def _lookups(store: SQLStore, stored: int, queries: int) -> list[float]:
    rng = random.Random(stored)
    times = []
    for i in rng.sample(range(stored), min(queries, stored)):
        start = time.perf_counter()
        found = store.customers.find_by_email(_email(i))
        times.append(time.perf_counter() - start)
        assert len(found) == 1
    return times


def _candidates(count: int, samples: int) -> Iterator[Customer]:
    rng = random.Random(2)
    for k in range(samples):
        i = rng.randrange(count)
        if k % 2 == 0:  # a duplicate of stored customer i: same name and phone, another email
            given, family = _name(i)
            yield Customer.create(
                name=f"{given} {family}", emails=[f"new{k}@example.net"], phones=[f"+4670{i:07d}"]
            )
        else:
            yield Customer.create(name=f"Fresh Person{k}", emails=[f"fresh{k}@example.net"])


def bench_lookups(url: str, rows: int, queries: int) -> None:
    engine = create_engine(url)
    store = SQLStore(engine, key_function=blocking_keys)
    store.create_all()
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE crm_customers, crm_customer_keys"))
    started = time.perf_counter()
    _fill(store, 0, 10_000)
    small = _lookups(store, 10_000, queries)
    _fill(store, 10_000, rows)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    filled = time.perf_counter() - started
    large = _lookups(store, rows, queries)
    print(
        f"find_by_email: median {statistics.median(small) * 1000:.3f} ms at 10,000, "
        f"{statistics.median(large) * 1000:.3f} ms at {rows:,} (p95 {_ms(large, 95):.3f} ms); "
        f"ratio {statistics.median(large) / statistics.median(small):.2f} "
        f"(filled in {filled:.0f}s)"
    )
    candidates = list(_candidates(rows, 400))
    for candidate in candidates[:20]:
        check_duplicates(candidate, store)
    checks = []
    for candidate in candidates:
        checks.append(_timed(lambda c=candidate: check_duplicates(c, store)))  # type: ignore[misc]
    print(
        f"check_duplicates at {rows:,}: p50 {_ms(checks, 50):.2f} ms, p95 {_ms(checks, 95):.2f} ms"
        " (goal p95 < 5 ms)"
    )
    engine.dispose()


def _guarded_adds(store: SQLStore, people: list[Customer], serializable: bool) -> int:
    retries = 0
    for person in people:
        while True:
            try:
                with store.transaction():
                    if serializable:
                        with store._use() as conn:
                            conn.execute(text("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"))
                    else:
                        store.lock_keys(selective_keys(person))
                    guard_duplicates(person, store, policy=DuplicatePolicy.BLOCK)
                    store.customers.add(person)
                break
            except OperationalError:  # a serialisation failure: retry the whole step
                retries += 1
    return retries


def bench_guard(url: str, per_thread: int) -> None:
    engine = create_engine(url, pool_size=8)
    SQLStore(engine).create_all()
    results = {}
    for name, serializable in (("advisory locks", False), ("SERIALIZABLE + retry", True)):
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE crm_customers, crm_customer_keys"))
        store = SQLStore(engine, key_function=blocking_keys)
        _fill(store, 0, 10_000)
        people = [
            Customer.create(name=f"Guarded Person{k}", emails=[f"guarded{k}@example.net"])
            for k in range(4 * per_thread)
        ]
        retries = [0] * 4

        def work(
            me: int, store: SQLStore, people: list[Customer], retries: list[int], ser: bool
        ) -> None:
            mine = people[me * per_thread : (me + 1) * per_thread]
            retries[me] = _guarded_adds(store, mine, ser)

        threads = [
            threading.Thread(target=work, args=(k, store, people, retries, serializable))
            for k in range(4)
        ]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        results[name] = (time.perf_counter() - start, sum(retries))
    engine.dispose()
    (lock_s, _), (ser_s, ser_retries) = results.values()
    print(
        f"guarded creates, 4 threads x {per_thread}: advisory locks {lock_s:.2f}s, "
        f"SERIALIZABLE + retry {ser_s:.2f}s ({ser_retries} retries); "
        f"ratio {ser_s / lock_s:.2f}x"
    )


def main() -> int:
    """Start a cluster (or use ``--url``) and print every figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a SQLAlchemy URL of a PostgreSQL database to use")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--small", action="store_true", help="10,000 customers, 100,000 rows")
    parser.add_argument("--only", choices=("add_many", "lookups", "guard"))
    args = parser.parse_args()
    if args.small:
        args.customers, args.rows = 10_000, 100_000
    cluster = None
    url = args.url
    if url is None:
        bindir = find_bindir()
        if bindir is None:
            print("no PostgreSQL binaries: install the dev group or pass --url", file=sys.stderr)
            return 2
        cluster = Cluster(bindir)
        cluster.start()
        url = cluster.url()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    try:
        if args.only in (None, "add_many"):
            bench_add_many(url, dsn, args.customers)
        if args.only in (None, "guard"):
            bench_guard(url, 250)
        if args.only in (None, "lookups"):
            bench_lookups(url, args.rows, args.queries)
    finally:
        if cluster is not None:
            cluster.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
