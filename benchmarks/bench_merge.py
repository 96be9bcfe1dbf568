"""Merge pairs of customers in SQLite, against the plain writes any merge must make.

Each pair has two customers with emails, phones and tags and ``--interactions``
interactions on the record that goes away. The baseline, in the same run and
on an identical database, does the minimum a merge has to write without
crmcore's merge: in one transaction per pair, read both records and their
interactions, update the survivor with the union of the contact points,
update the other record's ``merged_into`` and re-point each interaction with
``Interaction.repointed``. crmcore's ``merge`` additionally plans every field,
re-reads related leads and organisation members, and stores a ``MergeRecord``
with full before/after copies. The ratio is crmcore's cost over the baseline.

Run: ``.venv/bin/python benchmarks/bench_merge.py [--pairs 300] [--interactions 5]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs

from crmcore import Customer, Interaction, SQLiteStore, merge
from crmcore.storage import MergingStore

BASE = datetime(2024, 1, 1, tzinfo=UTC)


def seed(store: MergingStore, pairs: int, interactions: int) -> list[tuple[str, str]]:
    """Store ``pairs`` duplicate pairs; return their ids (survivor first)."""
    ids: list[tuple[str, str]] = []
    with store.transaction():
        for i in range(pairs):
            a = store.customers.add(
                Customer.create(
                    name=f"Person {i}",
                    emails=[f"p{i}@example.com"],
                    phones=[f"+4670{i:07d}"],
                    tags=["web"],
                )
            )
            b = store.customers.add(
                Customer.create(
                    name=f"Person {i}",
                    emails=[f"P{i}@example.com", f"work{i}@example.org"],
                    phones=[f"+4930{i:07d}"],
                    tags=["sales"],
                    owner="usr_1",
                )
            )
            store.interactions.add_many(
                Interaction.log(
                    channel="email",
                    direction="inbound",
                    occurred_at=BASE + timedelta(hours=k),
                    customer_id=b.id,
                )
                for k in range(interactions)
            )
            ids.append((a.id, b.id))
    return ids


def baseline(store: MergingStore, ids: list[tuple[str, str]]) -> None:
    """The writes a merge cannot avoid, done by hand."""
    for a_id, b_id in ids:
        with store.transaction():
            a = store.customers.get(a_id)
            b = store.customers.get(b_id)
            keys = {e.address.match_key for e in a.emails}
            numbers = {p.number.e164 for p in a.phones}
            survivor = attrs.evolve(
                a,
                emails=a.emails + tuple(e for e in b.emails if e.address.match_key not in keys),
                phones=a.phones + tuple(p for p in b.phones if p.number.e164 not in numbers),
                tags=a.tags | b.tags,
                owner=a.owner or b.owner,
            )
            store.customers.update(survivor)
            store.customers.update(attrs.evolve(b, merged_into=a.id))
            for interaction in store.interactions.list_for(b.id, limit=None):
                store.interactions.update(interaction.repointed(b.id, a.id))


def with_crmcore(store: MergingStore, ids: list[tuple[str, str]]) -> None:
    """crmcore's merge, pair by pair."""
    for a_id, b_id in ids:
        merge(store, [a_id, b_id], survivor=a_id)


def main() -> None:
    """Measure both on fresh files and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--interactions", type=int, default=5)
    args = parser.parse_args()
    timings = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, run in (("baseline", baseline), ("crmcore", with_crmcore)):
            with SQLiteStore(Path(tmp) / f"{name}.db") as store:
                ids = seed(store, args.pairs, args.interactions)
                start = time.perf_counter()
                run(store, ids)
                timings[name] = time.perf_counter() - start
    per_pair = {k: v / args.pairs * 1000 for k, v in timings.items()}
    print(
        f"{args.pairs} pairs, {args.interactions} interactions each: "
        f"baseline {per_pair['baseline']:.2f} ms/pair, "
        f"crmcore merge {per_pair['crmcore']:.2f} ms/pair, "
        f"ratio {timings['crmcore'] / timings['baseline']:.2f}"
    )


if __name__ == "__main__":
    main()
