"""timeline: newest first, paginated, filtered, across merges, conversions and members."""

from __future__ import annotations

import gc
import uuid
from datetime import timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore import (
    Channel,
    Customer,
    CustomerKind,
    Direction,
    Interaction,
    Lead,
    LeadStatus,
    Participant,
    ValidationError,
    convert_lead,
    merge,
    timeline,
    unmerge,
)
from crmcore.storage import InMemoryStore, MergingStore
from crmcore.timeline import Relation, TimelineEntry
from tests.merge.records import BASE
from tests.merge.stores import FACTORIES, StoreFactory

# Property tests build a fresh store per example (function-scoped fixtures
# cannot serve hypothesis examples); the others use the kit's any_store fixture.
STORES = pytest.mark.parametrize("make_store", list(FACTORIES.values()), ids=list(FACTORIES))


def _log(store: Any, record_id: str, hours: int, channel: Channel = Channel.EMAIL) -> Interaction:
    stored: Interaction = store.interactions.add(
        Interaction.log(
            channel=channel,
            direction=Direction.INBOUND,
            occurred_at=BASE + timedelta(hours=hours),
            participants=[Participant(record_id)],  # type: ignore[arg-type]
        )
    )
    return stored


def _read_all(store: Any, customer_id: str, limit: int, **filters: Any) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    cursor = None
    while True:
        page = timeline(store, customer_id, limit=limit, cursor=cursor, **filters)
        assert len(page) <= limit
        entries.extend(page)
        cursor = page.next_cursor
        if cursor is None:
            return entries


@STORES
@settings(max_examples=15)
@given(
    hours=st.lists(st.integers(0, 50), max_size=12),
    limit=st.integers(1, 5),
    channels=st.lists(st.sampled_from([Channel.EMAIL, Channel.SMS, Channel.CHAT]), max_size=12),
    window=st.tuples(st.integers(0, 50), st.integers(0, 50)),
)
def test_pages_are_complete_ordered_and_filtered(
    make_store: StoreFactory,
    hours: list[int],
    limit: int,
    channels: list[Channel],
    window: tuple[int, int],
) -> None:
    with make_store() as store:
        customer = store.customers.add(Customer.create(name="Ada"))
        logged = [
            _log(store, customer.id, h, channels[i] if i < len(channels) else Channel.EMAIL)
            for i, h in enumerate(hours)
        ]
        entries = _read_all(store, customer.id, limit)
        keys = [(e.occurred_at, e.key) for e in entries]
        assert keys == sorted(keys, reverse=True)
        assert sorted(e.key for e in entries) == sorted(i.id for i in logged)
        since, until = BASE + timedelta(hours=min(window)), BASE + timedelta(hours=max(window))
        filtered = _read_all(
            store, customer.id, limit, since=since, until=until, channels=[Channel.SMS]
        )
        assert {e.key for e in filtered} == {
            i.id for i in logged if since <= i.occurred_at < until and i.channel is Channel.SMS
        }


def test_merged_records_and_converted_leads_are_on_the_timeline(any_store: MergingStore) -> None:
    store = any_store
    ada = store.customers.add(Customer.create(name="Ada", emails=["ada@example.com"]))
    dup = store.customers.add(Customer.create(name="Ada L", emails=["al@example.com"]))
    older = store.customers.add(Customer.create(name="A L", emails=["old@example.com"]))
    lead = store.leads.add(
        attrs.evolve(Lead.create(name="Ada", company="Acme"), status=LeadStatus.QUALIFIED)
    )
    own = _log(store, ada.id, 1)
    from_dup = _log(store, dup.id, 2)
    from_older = _log(store, older.id, 3)
    from_lead = _log(store, lead.id, 4)
    merge(store, [dup.id, older.id], survivor=dup.id)
    merge(store, [ada.id, dup.id], survivor=ada.id)
    convert_lead(store, lead.id, customer_id=ada.id)
    entries = list(timeline(store, ada.id))
    assert [(e.key, e.record_id, e.relation) for e in entries] == [
        (from_lead.id, lead.id, Relation.CONVERTED_LEAD),
        (from_older.id, older.id, Relation.MERGED),
        (from_dup.id, dup.id, Relation.MERGED),
        (own.id, ada.id, Relation.DIRECT),
    ]
    # An id merged away reads the survivor's timeline.
    assert [e.key for e in timeline(store, older.id)] == [e.key for e in entries]
    assert "Ada" not in repr(entries)


def test_an_unmerge_takes_the_history_back(any_store: MergingStore) -> None:
    store = any_store
    ada = store.customers.add(Customer.create(name="Ada"))
    dup = store.customers.add(Customer.create(name="Ada L"))
    mine, theirs = _log(store, ada.id, 1), _log(store, dup.id, 2)
    result = merge(store, [ada.id, dup.id], survivor=ada.id)
    assert len(timeline(store, ada.id)) == 2
    unmerge(store, result.merge_id)
    assert [e.key for e in timeline(store, ada.id)] == [mine.id]
    assert [e.key for e in timeline(store, dup.id)] == [theirs.id]


def test_organisation_members_on_request(any_store: MergingStore) -> None:
    store = any_store
    acme = store.customers.add(Customer.create(name="Acme", kind=CustomerKind.ORGANIZATION))
    ada = store.customers.add(Customer.create(name="Ada").in_organization(acme.id))
    company_call = _log(store, acme.id, 1, Channel.PHONE_CALL)
    member_mail = _log(store, ada.id, 2)
    assert [e.key for e in timeline(store, acme.id)] == [company_call.id]
    entries = list(timeline(store, acme.id, include_organization_members=True))
    assert [(e.key, e.record_id, e.relation) for e in entries] == [
        (member_mail.id, ada.id, Relation.ORGANIZATION_MEMBER),
        (company_call.id, acme.id, Relation.DIRECT),
    ]


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": True}, "limit"),
        ({"cursor": "not a cursor"}, "cursor"),
        ({"channels": ["carrier pigeon"]}, "channels"),
        ({"channels": 5}, "channels"),
        ({"include_organization_members": "no"}, "include_organization_members"),
        ({"since": BASE.replace(tzinfo=None)}, "since"),
    ],
)
def test_bad_arguments_name_the_field(
    any_store: MergingStore, kwargs: dict[str, Any], path: str
) -> None:
    store = any_store
    customer = store.customers.add(Customer.create(name="Ada"))
    with pytest.raises(ValidationError) as info:
        timeline(store, customer.id, **kwargs)
    assert info.value.paths == (path,)


def test_pages_stay_complete_while_interactions_arrive(any_store: MergingStore) -> None:
    store = any_store
    acme = store.customers.add(Customer.create(name="Acme", kind=CustomerKind.ORGANIZATION))
    ada = store.customers.add(Customer.create(name="Ada").in_organization(acme.id))
    first = [_log(store, acme.id if h % 2 else ada.id, h) for h in range(10)]
    # Two records on one interaction: it is read once, as the organisation's.
    both = store.interactions.add(
        Interaction.log(
            channel=Channel.MEETING,
            direction=Direction.INTERNAL,
            occurred_at=BASE + timedelta(hours=5),
            participants=[Participant(ada.id), Participant(acme.id)],
        )
    )
    seen: list[TimelineEntry] = []
    page = timeline(store, acme.id, include_organization_members=True, limit=3)
    seen.extend(page)
    while page.next_cursor is not None:
        _log(store, ada.id, 100)  # newer than anything read: a later read shows it
        _log(store, acme.id, -1)  # older than everything: still to come
        page = timeline(
            store, acme.id, include_organization_members=True, limit=3, cursor=page.next_cursor
        )
        seen.extend(page)
    ids = [e.key for e in seen]
    assert len(ids) == len(set(ids))
    assert {i.id for i in first} | {both.id} <= set(ids)
    keys = [(e.occurred_at, e.key) for e in seen]
    assert keys == sorted(keys, reverse=True)
    (meeting,) = [e for e in seen if e.key == both.id]
    assert meeting.relation is Relation.DIRECT


def _read_a_merged_timeline(body: str) -> None:
    store = InMemoryStore()
    ada = store.customers.add(Customer.create(name="Ada"))
    dup = store.customers.add(Customer.create(name="Ada L"))
    store.interactions.add(
        Interaction.log(
            channel=Channel.EMAIL,
            direction=Direction.INBOUND,
            occurred_at=BASE,
            customer_id=dup.id,
            body=body,
        )
    )
    merge(store, [ada.id, dup.id], survivor=ada.id)
    (entry,) = timeline(store, ada.id)
    assert entry.relation is Relation.MERGED  # the merge record's copies were read


def test_no_copy_of_an_interaction_outlives_its_store() -> None:
    # Customer data must not outlive its store in a process-wide cache: the
    # timeline once kept the merge records' interaction copies, bodies included.
    body = f"private note {uuid.uuid4()}"
    _read_a_merged_timeline(body)
    gc.collect()
    assert not [o for o in gc.get_objects() if isinstance(o, Interaction) and o.body == body]


def test_the_workflows_module_still_exports_the_services() -> None:
    import crmcore.workflows as workflows
    from crmcore import conversion, writes
    from crmcore import timeline as timeline_function

    assert workflows.timeline is timeline_function
    assert workflows.Relation is Relation
    assert workflows.convert_lead is conversion.convert_lead
    assert workflows.add_customer is writes.add_customer
    assert set(workflows.__all__) == {
        *conversion.__all__,
        *writes.__all__,
        "Relation",
        "TimelineEntry",
        "TimelinePage",
        "timeline",
    }


def test_a_merge_record_indexes_the_interactions_it_moved_once() -> None:
    store = InMemoryStore()
    ada = store.customers.add(Customer.create(name="Ada"))
    dup = store.customers.add(Customer.create(name="Ada L"))
    moved = _log(store, dup.id, 1)
    _log(store, ada.id, 2)
    record = merge(store, [ada.id, dup.id], survivor=ada.id).record
    index = record.moved_interactions
    assert {i: original for i, (original, _) in index.items()} == {moved.id: dup.id}
    assert index[moved.id][1] == moved  # the copy before the merge
    assert record.moved_interactions is index  # computed once per copy
    # Not a field: equality, copies and the stored form do not see it.
    assert "moved_interactions" not in attrs.asdict(record, recurse=False)
    assert attrs.evolve(record) == record
