"""The event-publishing writes of opportunities, tasks and cases: one event per change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest

from crmcore import (
    Case,
    CaseStatus,
    Customer,
    InvalidTransition,
    Opportunity,
    Task,
    ValidationError,
)
from crmcore.events import (
    CaseOpened,
    CaseStatusChanged,
    CaseUpdated,
    DomainEvent,
    EventDispatcher,
    EventRecorder,
    OpportunityCreated,
    OpportunityStageChanged,
    OpportunityUpdated,
    TaskCompleted,
    TaskCreated,
    TaskUpdated,
)
from crmcore.storage import InMemoryStore, Store
from crmcore.writes import (
    add_case,
    add_opportunity,
    add_task,
    change_case_status,
    move_opportunity,
    update_case,
    update_opportunity,
    update_task,
)
from tests.services.work import B2B, BASE, SHOP


def _recorded() -> tuple[EventDispatcher, EventRecorder]:
    dispatcher = EventDispatcher()
    return dispatcher, EventRecorder(dispatcher)


def test_an_opportunity_publishes_its_creation_moves_and_updates(any_store: Store) -> None:
    events, recorder = _recorded()
    ada = any_store.customers.add(Customer.create(name="Ada"))
    deal = add_opportunity(
        any_store,
        Opportunity.create(name="Renewal", customer_id=ada.id, pipeline=B2B, at=BASE),
        events=events,
    )
    deal = move_opportunity(
        any_store, deal.id, B2B, "negotiate", at=BASE + timedelta(days=2), events=events
    )
    deal = move_opportunity(
        any_store, deal.id, B2B, "propose", at=BASE + timedelta(days=3), events=events
    )
    deal = update_opportunity(any_store, attrs.evolve(deal, owner="u7"), events=events)
    assert update_opportunity(any_store, deal, events=events) == deal  # nothing changed
    lost = deal.move_to(B2B, "lost", at=BASE + timedelta(days=4), reason="budget")
    stored = update_opportunity(any_store, lost, events=events)

    assert [type(e) for e in recorder.events] == [
        OpportunityCreated,
        OpportunityStageChanged,
        OpportunityStageChanged,
        OpportunityUpdated,
        OpportunityUpdated,
        OpportunityStageChanged,
    ]
    moves = recorder.of_type(OpportunityStageChanged)
    assert [(e.from_stage_id, e.to_stage_id, e.status) for e in moves] == [
        ("qualify", "negotiate", "open"),
        ("negotiate", "propose", "open"),
        ("propose", "lost", "lost"),
    ]
    assert recorder.of_type(OpportunityUpdated)[0].fields == ("owner",)
    assert "stage_history" in recorder.of_type(OpportunityUpdated)[1].fields
    assert any_store.opportunities.get(deal.id) == stored  # type: ignore[attr-defined]


def test_a_move_that_the_pipeline_refuses_writes_and_publishes_nothing(
    any_store: Store,
) -> None:
    events, recorder = _recorded()
    ada = any_store.customers.add(Customer.create(name="Ada"))
    deal = add_opportunity(
        any_store, Opportunity.create(name="Cart", customer_id=ada.id, pipeline=SHOP, at=BASE)
    )
    with pytest.raises(InvalidTransition):
        move_opportunity(any_store, deal.id, SHOP, "abandoned", events=events)  # no reason
    with pytest.raises(ValidationError) as info:
        move_opportunity(any_store, deal.id, B2B, "won", events=events)  # another pipeline
    assert "stage" in info.value.paths[0]
    assert any_store.opportunities.get(deal.id) == deal  # type: ignore[attr-defined]
    assert recorder.events == []


def test_a_task_publishes_creation_updates_and_completion(any_store: Store) -> None:
    events, recorder = _recorded()
    ada = any_store.customers.add(Customer.create(name="Ada"))
    task = add_task(any_store, Task.create(title="Call back", about_id=ada.id), events=events)
    task = update_task(any_store, attrs.evolve(task, assignee="u1"), events=events)
    update_task(any_store, task.complete(at=BASE), events=events)

    assert [type(e) for e in recorder.events] == [
        TaskCreated,
        TaskUpdated,
        TaskUpdated,
        TaskCompleted,
    ]
    assert recorder.of_type(TaskUpdated)[0].fields == ("assignee",)


def test_a_case_publishes_its_opening_and_each_status_change(any_store: Store) -> None:
    events, recorder = _recorded()
    ada = any_store.customers.add(Customer.create(name="Ada"))
    case = add_case(
        any_store,
        Case.create(subject="Parcel lost", customer_id=ada.id, reported_at=BASE),
        events=events,
    )
    case = change_case_status(
        any_store, case.id, CaseStatus.OPEN, at=BASE + timedelta(hours=1), events=events
    )
    case = update_case(any_store, attrs.evolve(case, assignee="agent-2"), events=events)
    resolved = case.transition_to(CaseStatus.RESOLVED, at=BASE + timedelta(hours=5))
    update_case(any_store, resolved, events=events)
    with pytest.raises(InvalidTransition):
        change_case_status(any_store, case.id, CaseStatus.NEW, events=events)

    assert [type(e) for e in recorder.events] == [
        CaseOpened,
        CaseStatusChanged,
        CaseUpdated,
        CaseUpdated,
        CaseStatusChanged,
    ]
    changes = recorder.of_type(CaseStatusChanged)
    assert [(e.old_status, e.new_status) for e in changes] == [
        ("new", "open"),
        ("open", "resolved"),
    ]


def test_a_raising_subscriber_undoes_a_work_item_write(any_store: Store) -> None:
    events = EventDispatcher()

    def refuse(event: DomainEvent) -> None:
        raise RuntimeError("subscriber down")

    events.subscribe(DomainEvent, refuse)
    ada = any_store.customers.add(Customer.create(name="Ada"))
    with pytest.raises(RuntimeError):
        add_task(any_store, Task.create(title="Call back", about_id=ada.id), events=events)
    assert any_store.tasks.count() == 0  # type: ignore[attr-defined]
    deal = add_opportunity(
        any_store, Opportunity.create(name="Renewal", customer_id=ada.id, pipeline=B2B, at=BASE)
    )
    with pytest.raises(RuntimeError):
        move_opportunity(any_store, deal.id, B2B, "propose", events=events)
    assert any_store.opportunities.get(deal.id) == deal  # type: ignore[attr-defined]


def test_a_store_without_work_items_is_refused_by_name() -> None:
    class NoWork:
        """A store with customers, leads and interactions only."""

        def __init__(self) -> None:
            self._inner = InMemoryStore()
            self.customers = self._inner.customers
            self.leads = self._inner.leads
            self.interactions = self._inner.interactions

        def transaction(self) -> Any:
            return self._inner.transaction()

    store: Any = NoWork()
    ada = store.customers.add(Customer.create(name="Ada"))
    with pytest.raises(ValidationError) as info:
        add_task(store, Task.create(title="Call back", about_id=ada.id))
    assert info.value.paths == ("store",)
