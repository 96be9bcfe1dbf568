"""Whatever a store accepts, it reads back: every strategy-drawn record, edge values included.

Each example writes customers and leads (tombstones too), interactions about
them and merge records to every store (``InMemoryStore``, ``SQLiteStore`` on a
real file), then reads everything back through every read that a poisoned
record used to break: ``get``, every ``list()`` page, ``iter_all``, each
record's timeline, the merge records and ``find_duplicates``. Every copy read
must equal the one stored, payload and all. The strategies' ``edge=True``
draws timestamps in years 1 and 9999 (in UTC and at +14:00 / -14:00), amounts
of 38 digits, raw phone texts, subjects, bodies and notes at their caps and
durations up to the maximum; the test counts what it tried and checks that
every kind of edge value was among it.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore import Customer, CustomerKind, Interaction, Lead, to_dict
from crmcore.dedup import find_duplicates
from crmcore.ids import RecordId
from crmcore.interactions import MAX_DURATION
from crmcore.merge_record import MergeRecord
from crmcore.storage import InMemoryStore, MergingStore, SQLiteStore
from crmcore.testing import strategies

TRIED: Counter[str] = Counter()


@st.composite
def _batches(draw: st.DrawFn) -> tuple[list[Customer], list[Lead], list[Interaction], list[Any]]:
    customers = draw(
        st.lists(
            strategies.customers(merged=True, edge=True),
            min_size=1,
            max_size=3,
            unique_by=lambda c: c.id,
        )
    )
    leads = draw(
        st.lists(
            strategies.leads(merged=True, edge=True),
            min_size=1,
            max_size=3,
            unique_by=lambda x: x.id,
        )
    )
    # A store refuses references to records it does not hold: an organisation and a
    # conversion name records of the batch (or nothing), which the batch stores first.
    orgs = [c.id for c in customers if c.kind is CustomerKind.ORGANIZATION]
    customers = [
        attrs.evolve(c, organization_id=orgs[0] if orgs and c.organization_id else None)
        if c.kind is CustomerKind.PERSON
        else c
        for c in customers
    ]
    leads = [
        attrs.evolve(x, converted_customer_id=customers[0].id if x.converted_customer_id else None)
        for x in leads
    ]
    ids: list[RecordId] = [c.id for c in customers] + [lead.id for lead in leads]
    interactions = draw(
        st.lists(
            strategies.interactions(record_ids=ids, edge=True),
            max_size=3,
            unique_by=(lambda i: i.id, lambda i: i.external_id or i.id),
        )
    )
    merges = draw(
        st.lists(strategies.merge_records(edge=True), max_size=1, unique_by=lambda m: m.id)
    )
    return customers, leads, interactions, merges


def _same(read: object, stored: object) -> None:
    assert read == stored
    assert to_dict(read) == to_dict(stored)


def _pages(read: Callable[..., Any], *args: Any, **kwargs: Any) -> Iterator[Any]:
    cursor = None
    while True:
        page = read(*args, limit=2, cursor=cursor, **kwargs)
        yield from page.items
        cursor = page.next_cursor
        if cursor is None:
            return


def _count_edges(records: list[Any]) -> None:
    def extreme(moment: datetime | None) -> bool:
        return moment is not None and moment.year in (1, 9999)

    for record in records:
        TRIED["records"] += 1
        if isinstance(record, MergeRecord):
            TRIED["extreme datetimes"] += extreme(record.merged_at)
            continue
        if extreme(record.created_at) or extreme(getattr(record, "occurred_at", None)):
            TRIED["extreme datetimes"] += 1
        if isinstance(record, Interaction) and record.duration is not None:
            TRIED["maximal durations"] += record.duration > MAX_DURATION - timedelta(days=366)
            TRIED["bodies at the cap"] += len(record.body or "") == 100_000
        if isinstance(record, Lead) and record.estimated_value is not None:
            TRIED["amounts of 30+ digits"] += (
                len(record.estimated_value.amount.as_tuple().digits) >= 30
            )
        if isinstance(record, Customer | Lead):
            TRIED["raw phone texts at the cap"] += any(
                len(p.number.raw or "") == 64 for p in record.phones
            )


def _round_trip(store: MergingStore, batch: tuple[Any, ...]) -> None:
    customers, leads, interactions, merges = batch
    for repo, records in ((store.customers, customers), (store.leads, leads)):
        stored = {r.id: r for r in repo.add_many(records)}
        for record_id, record in stored.items():
            _same(repo.get(record_id), record)
        listed = list(_pages(repo.list))
        assert [r.id for r in listed] == sorted(stored)
        for read in listed:
            _same(read, stored[read.id])
        for read in repo.iter_all(batch_size=2):
            _same(read, stored[read.id])
    logged = {i.id: i for i in store.interactions.add_many(interactions)}
    for interaction in logged.values():
        _same(store.interactions.get(interaction.id), interaction)
    for record in (*customers, *leads):
        timeline = list(_pages(store.interactions.list_for, record.id))
        assert sorted(i.id for i in timeline) == sorted(
            i.id for i in logged.values() if record.id in i.record_ids
        )
        for read in timeline:
            _same(read, logged[read.id])
    for merge in merges:
        kept: MergeRecord = store.merges.add(merge)
        _same(store.merges.get(merge.id), kept)
        for participant in merge.participant_ids:
            assert merge.id in [m.id for m in store.merges.list_for(participant)]
    find_duplicates(store)


def test_every_drawn_record_reads_back_equal_from_every_store(tmp_path: Path) -> None:
    TRIED.clear()

    # The profile's count, but never fewer than the ci profile's 40: the edge
    # values must all be reached (a test elsewhere may have run a tiny profile).
    @settings(max_examples=max(settings().max_examples, 40))
    @given(_batches())
    def check(batch: tuple[Any, ...]) -> None:
        for records in batch:
            _count_edges(records)
        with tempfile.TemporaryDirectory(dir=tmp_path) as directory:
            for store in (InMemoryStore(), SQLiteStore(Path(directory) / "crm.db")):
                with store:
                    _round_trip(store, batch)

    check()
    print(dict(TRIED))  # the figures docs/reliability.md quotes (pytest -s shows them)
    missing = [kind for kind in _EDGE_KINDS if not TRIED[kind]]
    assert not missing, f"no example drew {missing}: {dict(TRIED)}"


_EDGE_KINDS = (
    "extreme datetimes",
    "maximal durations",
    "amounts of 30+ digits",
    "raw phone texts at the cap",
)
