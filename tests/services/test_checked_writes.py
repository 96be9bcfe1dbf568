"""``add_customer`` / ``add_lead`` with ``policy=``: the duplicate check and write are one step."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore import Customer, DuplicateDetected, Lead, ValidationError
from crmcore.dedup import Decision, DuplicatePolicy, selective_keys
from crmcore.ids import new_customer_id
from crmcore.storage import InMemoryStore, SQLiteStore, Store
from crmcore.testing import strategies as cst
from crmcore.testing._stand_ins import store_referenced
from crmcore.writes import CheckedWrite, add_customer, add_lead
from tests.services.locking import LockingStore


def _person(email: str = "anna.l@example.org") -> Customer:
    return Customer.create(name="Anna Lindqvist", emails=[email], phones=["+46 70 123 45 67"])


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store = InMemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "c.db")
    with made:
        yield made


def test_without_policy_the_write_is_unchanged(store: Store) -> None:
    first = add_customer(store, _person())
    second = add_customer(store, _person())
    assert isinstance(first, Customer)
    assert isinstance(second, Customer)
    assert store.customers.count() == 2


def test_block_refuses_a_match_and_writes_nothing(store: Store) -> None:
    stored = add_customer(store, _person(), policy=DuplicatePolicy.BLOCK)
    assert isinstance(stored, CheckedWrite)
    assert stored.matches == ()
    with pytest.raises(DuplicateDetected) as refused:
        add_customer(store, _person("ANNA.L@example.org"), policy=DuplicatePolicy.BLOCK)
    assert refused.value.matches[0].record_id == stored.record.id
    assert store.customers.count() == 1


def test_alert_stores_and_returns_the_matches(store: Store) -> None:
    first = add_customer(store, _person(), policy=DuplicatePolicy.ALERT)
    second = add_customer(store, _person(), policy=DuplicatePolicy.ALERT)
    assert [m.record_id for m in second.matches] == [first.record.id]
    assert second.matches[0].decision is Decision.MATCH
    assert store.customers.count() == 2
    assert store.customers.get(second.record.id) == second.record


def test_allow_does_not_check(store: Store) -> None:
    add_customer(store, _person())
    assert add_customer(store, _person(), policy=DuplicatePolicy.ALLOW).matches == ()
    assert store.customers.count() == 2


def test_a_misspelt_policy_is_refused_and_nothing_is_written(store: Store) -> None:
    with pytest.raises(ValidationError) as bad:
        add_customer(store, _person(), policy="block")  # type: ignore[call-overload]
    assert [path for path, _ in bad.value.problems] == ["policy"]
    assert store.customers.count() == 0


def test_a_lead_is_checked_against_customers(store: Store) -> None:
    customer = add_customer(store, _person())
    lead = Lead.create(name="Anna Lindqvist", emails=["anna.l@example.org"])
    with pytest.raises(DuplicateDetected) as refused:
        add_lead(store, lead, policy=DuplicatePolicy.BLOCK)
    assert refused.value.matches[0].record_id == customer.id
    assert store.leads.count() == 0
    assert add_lead(store, lead, policy=DuplicatePolicy.ALERT).record.id == lead.id


def _add_from_threads(store: Store, count: int) -> list[object]:
    barrier = threading.Barrier(count)
    outcomes: list[object] = []
    lock = threading.Lock()

    def work() -> None:
        barrier.wait()
        try:
            result: object = add_customer(store, _person(), policy=DuplicatePolicy.BLOCK)
        except DuplicateDetected as exc:
            result = exc
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=work) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _slowed(lookup: Any) -> Any:
    def slow(self: Any, *args: Any, **kwargs: Any) -> Any:
        found = lookup(self, *args, **kwargs)
        time.sleep(0.01)
        return found

    return slow


def test_eight_threads_adding_one_person_store_exactly_one(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Slow lookups (answering what was stored before the pause) widen the gap
    # between check and write: were they two steps, every thread would pass its
    # check before any wrote, and all 8 would store the person.
    repo = type(store.customers)
    for name in ("find_by_keys", "find_by_email", "find_by_phone"):
        monkeypatch.setattr(repo, name, _slowed(getattr(repo, name)))
    outcomes = _add_from_threads(store, 8)
    assert sum(isinstance(o, CheckedWrite) for o in outcomes) == 1
    assert sum(isinstance(o, DuplicateDetected) for o in outcomes) == 7
    assert store.customers.count() == 1


def _add_in_process(path: str, start: Any, results: Any) -> None:
    with SQLiteStore(Path(path)) as store:
        start.wait()
        try:
            add_customer(store, _person(), policy=DuplicatePolicy.BLOCK)
            results.put("stored")
        except DuplicateDetected:
            results.put("refused")


def test_two_processes_on_one_sqlite_file_store_exactly_one(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    SQLiteStore(path).close()  # create the schema before the race
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    results = context.Queue()
    processes = [
        context.Process(target=_add_in_process, args=(str(path), start, results)) for _ in range(2)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert sorted(results.get(timeout=5) for _ in processes) == ["refused", "stored"]
    with SQLiteStore(path) as store:
        assert store.customers.count() == 1


@settings(max_examples=25, deadline=None)
@given(customer=cst.customers())
def test_a_store_with_key_locks_is_locked_inside_the_transaction(customer: Customer) -> None:
    store = LockingStore()
    store_referenced(store, [customer])  # its organisation (not through add_customer: no lock)
    add_customer(store, customer, policy=DuplicatePolicy.ALERT)
    assert store.locked == [(1, sorted(set(selective_keys(customer))))]
    add_customer(store, attrs.evolve(customer, id=new_customer_id()))
    assert len(store.locked) == 1  # no policy: no check, no locks


@settings(max_examples=25, deadline=None)
@given(email=cst.email_addresses(), times=st.integers(min_value=2, max_value=4))
def test_under_block_one_person_is_stored_once_however_often_added(email: Any, times: int) -> None:
    with InMemoryStore() as store:
        stored = 0
        for _ in range(times):
            try:
                add_customer(
                    store,
                    Customer.create(name="Anna Lindqvist", emails=[email]),
                    policy=DuplicatePolicy.BLOCK,
                )
                stored += 1
            except DuplicateDetected:
                pass
        assert stored == 1
        assert store.customers.count() == 1
