"""convert_lead(..., opportunity=...): the deal opens in the conversion's transaction, once."""

from __future__ import annotations

from datetime import date
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore import (
    Customer,
    DealStatus,
    InvalidTransition,
    Lead,
    LeadSource,
    LeadStatus,
    Money,
    ValidationError,
    convert_lead,
)
from crmcore.conversion import OpportunityDraft
from crmcore.events import (
    DomainEvent,
    EventDispatcher,
    EventRecorder,
    LeadConverted,
    OpportunityCreated,
)
from crmcore.storage import InMemoryStore
from tests.merge.records import leads
from tests.merge.stores import dump
from tests.merge.work import PIPELINE, WORK_STORES, NoWorkItemsStore


def _qualified(store: Any, **values: Any) -> Lead:
    lead = Lead.create(name="Grace Hopper", source="web_form", **values)
    stored: Lead = store.leads.add(attrs.evolve(lead, status=LeadStatus.QUALIFIED))
    return stored


def test_the_deal_opens_with_the_conversion() -> None:
    store = InMemoryStore()
    lead = _qualified(store, estimated_value=Money.of("900", "EUR"), owner="usr_bo")
    dispatcher = EventDispatcher()
    recorder = EventRecorder(dispatcher)
    draft = OpportunityDraft(name="Espresso machines", pipeline=PIPELINE, close_date="2024-06-30")
    result = convert_lead(store, lead.id, opportunity=draft, events=dispatcher)
    deal = result.opportunity
    assert deal is not None
    assert store.opportunities.get(deal.id) == deal
    assert deal.customer_id == result.customer.id
    assert deal.lead_id == lead.id
    assert deal.source is LeadSource.WEB_FORM
    assert deal.amount == Money.of("900", "EUR")  # the lead's estimated value
    assert deal.owner == "usr_bo"
    assert deal.close_date == date(2024, 6, 30)
    assert (deal.stage_id, deal.status) == ("new", DealStatus.OPEN)
    assert [e.opportunity_id for e in recorder.of_type(OpportunityCreated)] == [deal.id]
    # Published with the conversion's own events, after the lead's.
    kinds = [type(e) for e in recorder.events]
    assert kinds.index(LeadConverted) < kinds.index(OpportunityCreated)
    assert "Espresso" not in repr(result)
    assert "Espresso" not in repr(draft)


def test_the_draft_chooses_stage_amount_and_owner() -> None:
    store = InMemoryStore()
    lead = _qualified(store, estimated_value=Money.of("900", "EUR"), owner="usr_bo")
    draft = OpportunityDraft(
        name="Grinders",
        pipeline=PIPELINE,
        stage="quote",
        amount=Money.of("50", "USD"),
        owner="usr_anna",
    )
    deal = convert_lead(store, lead.id, opportunity=draft).opportunity
    assert deal is not None
    assert (deal.stage_id, deal.amount, deal.owner) == ("quote", Money.of("50", "USD"), "usr_anna")


@WORK_STORES
@settings(max_examples=15)
@given(lead=leads(), again=st.integers(1, 3))
def test_converting_again_returns_the_same_deal_and_writes_nothing(
    make_store: Any, lead: Lead, again: int
) -> None:
    with make_store() as store:
        lead = store.leads.add(attrs.evolve(lead, status=LeadStatus.QUALIFIED))
        draft = OpportunityDraft(name="Deal", pipeline=PIPELINE)
        first = convert_lead(store, lead.id, opportunity=draft)
        assert first.opportunity is not None
        before = dump(store, [lead.id, first.customer.id])
        for _ in range(again):
            repeat = convert_lead(store, lead.id, opportunity=draft)
            assert repeat.opportunity == first.opportunity
            assert repeat.customer == first.customer
            # Without a draft the deal is found all the same.
            assert convert_lead(store, lead.id).opportunity == first.opportunity
        assert dump(store, [lead.id, first.customer.id]) == before
        assert store.opportunities.count() == 1


def test_a_lead_converted_without_a_deal_gets_it_on_request_once() -> None:
    store = InMemoryStore()
    lead = _qualified(store)
    plain = convert_lead(store, lead.id)
    assert plain.opportunity is None
    draft = OpportunityDraft(name="Deal", pipeline=PIPELINE)
    later = convert_lead(store, lead.id, opportunity=draft)
    assert later.opportunity is not None
    assert later.opportunity.customer_id == plain.customer.id
    assert convert_lead(store, lead.id, opportunity=draft).opportunity == later.opportunity
    assert store.opportunities.count() == 1


@pytest.mark.parametrize(
    ("draft", "path"),
    [
        (
            OpportunityDraft(name="Deal", pipeline=PIPELINE, amount=Money.of("-1", "EUR")),
            "opportunity.amount",
        ),
        (OpportunityDraft(name="Deal", pipeline=PIPELINE, stage="nowhere"), "opportunity.stage"),
        (
            OpportunityDraft(name="Deal", pipeline=PIPELINE, close_date="31/06/2024"),
            "opportunity.close_date",
        ),
        (OpportunityDraft(name="", pipeline=PIPELINE), "opportunity.name"),
    ],
)
def test_a_bad_draft_refuses_the_whole_conversion(draft: OpportunityDraft, path: str) -> None:
    store = InMemoryStore()
    lead = _qualified(store)
    before = dump(store, [lead.id])
    with pytest.raises(ValidationError) as refused:
        convert_lead(store, lead.id, opportunity=draft)
    assert refused.value.paths == (path,)
    assert dump(store, [lead.id]) == before


def test_a_lost_starting_stage_refuses_the_conversion() -> None:
    store = InMemoryStore()
    lead = _qualified(store)
    with pytest.raises(InvalidTransition):
        convert_lead(store, lead.id, opportunity=OpportunityDraft("Deal", PIPELINE, stage="lost"))
    assert store.leads.get(lead.id).status is LeadStatus.QUALIFIED
    assert store.customers.count() == 0


def test_a_failing_subscriber_rolls_the_deal_back_with_the_conversion() -> None:
    store = InMemoryStore()
    lead = _qualified(store)
    dispatcher = EventDispatcher()

    def refuse(event: DomainEvent) -> None:
        raise RuntimeError("outbox down")

    dispatcher.subscribe(OpportunityCreated, refuse)
    with pytest.raises(RuntimeError):
        convert_lead(
            store, lead.id, opportunity=OpportunityDraft("Deal", PIPELINE), events=dispatcher
        )
    assert store.opportunities.count() == 0
    assert store.customers.count() == 0
    assert store.leads.get(lead.id).status is LeadStatus.QUALIFIED


def test_the_draft_and_the_store_are_checked_first() -> None:
    store = InMemoryStore()
    lead = _qualified(store)
    junk: Any = {"name": "Deal"}
    with pytest.raises(ValidationError) as refused:
        convert_lead(store, lead.id, opportunity=junk)
    assert refused.value.paths == ("opportunity",)
    with pytest.raises(ValidationError) as refused:
        convert_lead(
            NoWorkItemsStore(store), lead.id, opportunity=OpportunityDraft("Deal", PIPELINE)
        )
    assert refused.value.paths == ("store",)
    assert store.leads.get(lead.id).status is LeadStatus.QUALIFIED
    # Without a draft, a store without work items converts as before.
    assert convert_lead(NoWorkItemsStore(store), lead.id).opportunity is None


def test_an_existing_customer_gets_the_deal() -> None:
    store = InMemoryStore()
    ada = store.customers.add(Customer.create(name="Ada Lovelace", emails=["ada@example.com"]))
    lead = store.leads.add(
        attrs.evolve(
            Lead.create(name="Ada Lovelace", emails=["ADA@example.com"]),
            status=LeadStatus.QUALIFIED,
        )
    )
    result = convert_lead(store, lead.id, opportunity=OpportunityDraft("Deal", PIPELINE))
    assert result.matched
    assert result.opportunity is not None
    assert result.opportunity.customer_id == ada.id
