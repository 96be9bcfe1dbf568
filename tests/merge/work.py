"""Work items (opportunities, tasks, cases) about a group of records, for the service tests.

Values come from small pools, and the strategies draw items that point at the
records of a group, so that merges have something to move.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import strategies as st

from crmcore import Case, CaseStatus, ContactRole, Money, Opportunity, Pipeline, Task
from crmcore.ids import CustomerId, is_customer_id
from crmcore.storage import InMemoryStore, SQLiteStore
from tests.merge.records import BASE
from tests.merge.stores import NoWorkItemsStore

__all__ = ["NoWorkItemsStore"]

WorkItem = Opportunity | Task | Case

PIPELINE = Pipeline.create(
    "web-shop",
    "Web shop",
    [
        {"id": "new", "name": "New", "probability": "0.1"},
        {"id": "quote", "name": "Quote sent", "probability": "0.5"},
        {"id": "won", "name": "Won", "probability": "1", "status": "won"},
        {"id": "lost", "name": "Lost", "probability": "0", "status": "lost"},
    ],
)
ROLES = ["decision_maker", "influencer", "user"]

WORK_FACTORIES: dict[str, Callable[[], Any]] = {
    "memory": InMemoryStore,
    "sqlite": lambda: SQLiteStore(":memory:"),
}
"""The shipped stores that keep work items (SupportsWorkItems)."""

WORK_STORES = pytest.mark.parametrize(
    "make_store", list(WORK_FACTORIES.values()), ids=list(WORK_FACTORIES)
)
"""Property tests build a fresh store per example, of each kind that keeps work items."""


def opportunity(customer_id: str, *contacts: tuple[str, str], hours: int = 0) -> Opportunity:
    """An open deal with ``customer_id``, entered at ``BASE + hours``."""
    return Opportunity.create(
        name="Espresso machines",
        customer_id=CustomerId(customer_id),
        pipeline=PIPELINE,
        amount=Money.of("1200.00", "EUR"),
        contacts=[ContactRole(CustomerId(c), role) for c, role in contacts],
        at=BASE + timedelta(hours=hours),
    )


def task(about_id: str | None, *, done_hours: int | None = None) -> Task:
    """A call to make about ``about_id``, completed at ``BASE + done_hours`` when given."""
    planned = Task.create(title="Call back", kind="call", about_id=about_id)
    if done_hours is None:
        return planned
    return planned.complete(at=BASE + timedelta(hours=done_hours))


def case(customer_id: str, *, hours: int = 0) -> Case:
    """A web-form case of ``customer_id`` reported at ``BASE + hours``."""
    return Case.create(
        subject="The grinder is noisy",
        customer_id=CustomerId(customer_id),
        reported_at=BASE + timedelta(hours=hours),
    )


def work_items_for(record_ids: Sequence[str]) -> st.SearchStrategy[list[WorkItem]]:
    """Opportunities and cases of the customers among ``record_ids``, tasks about any of them.

    Opportunities name some of the customers as contacts (a merge can make
    two of their roles one), and some items have moved on since they were
    created (a later stage, a done task, an open case).
    """
    customers = [i for i in record_ids if is_customer_id(i)]

    @st.composite
    def deal(draw: st.DrawFn) -> WorkItem:
        contacts = draw(
            st.lists(
                st.tuples(st.sampled_from(customers), st.sampled_from(ROLES)),
                max_size=4,
                unique=True,
            )
        )
        found = opportunity(
            draw(st.sampled_from(customers)), *contacts, hours=draw(st.integers(0, 9))
        )
        if draw(st.booleans()):
            found = found.move_to(PIPELINE, "quote", at=BASE + timedelta(hours=10))
        if draw(st.booleans()):
            found = found.with_probability(Decimal("0.3"))
        return found

    @st.composite
    def follow_up(draw: st.DrawFn) -> WorkItem:
        done = draw(st.none() | st.integers(0, 20))
        return task(draw(st.sampled_from(record_ids)), done_hours=done)

    @st.composite
    def request(draw: st.DrawFn) -> WorkItem:
        found = case(draw(st.sampled_from(customers)), hours=draw(st.integers(0, 9)))
        if draw(st.booleans()):
            found = found.transition_to(CaseStatus.OPEN, at=BASE + timedelta(hours=12))
        return found

    kinds = [follow_up()]
    if customers:
        kinds += [deal(), request()]
    return st.lists(st.one_of(kinds), max_size=6)


def add_work(store: Any, items: Sequence[WorkItem]) -> list[WorkItem]:
    """Store ``items`` in their repositories; returns the stored copies."""
    stored: list[WorkItem] = []
    for item in items:
        if isinstance(item, Opportunity):
            stored.append(store.opportunities.add(item))
        elif isinstance(item, Task):
            stored.append(store.tasks.add(item))
        else:
            stored.append(store.cases.add(item))
    return stored
