"""Leads: capture, and the status state machine (every pair of statuses)."""

from __future__ import annotations

import itertools

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore import (
    Customer,
    EmailAddress,
    InvalidTransition,
    Lead,
    LeadSource,
    LeadStatus,
    Money,
    PersonName,
    ValidationError,
)
from crmcore.testing.strategies import leads

S = LeadStatus
# The state machine, written out independently of the implementation:
# new -> contacted -> qualified -> converted; any open status -> disqualified;
# disqualified -> new (recycled).
ALLOWED = {
    (S.NEW, S.CONTACTED),
    (S.CONTACTED, S.QUALIFIED),
    (S.QUALIFIED, S.CONVERTED),
    (S.NEW, S.DISQUALIFIED),
    (S.CONTACTED, S.DISQUALIFIED),
    (S.QUALIFIED, S.DISQUALIFIED),
    (S.DISQUALIFIED, S.NEW),
}
PAIRS = list(itertools.product(LeadStatus, LeadStatus))


def _lead(status: LeadStatus = S.NEW) -> Lead:
    lead = Lead.create(name="Grace Hopper", company="Navy", emails=["grace@example.com"])
    reason = "no budget" if status is S.DISQUALIFIED else None
    return attrs.evolve(lead, status=status, status_reason=reason)


def test_create() -> None:
    lead = Lead.create(
        name="Grace Hopper",
        company="  US Navy ",
        emails=["Grace@Example.com", "grace@example.com"],
        phones=["(202) 555-0143"],
        region="US",
        source="web_form",
        score=40,
        estimated_value=Money.of("1000", "USD"),
        tags=["Hot"],
    )
    assert lead.status is S.NEW
    assert lead.name == PersonName(given="Grace", family="Hopper")
    assert lead.company == "US Navy"
    assert lead.primary_email == EmailAddress.parse("Grace@example.com")
    assert len(lead.emails) == 1
    assert lead.primary_phone is not None
    assert lead.primary_phone.e164 == "+12025550143"
    assert lead.source is LeadSource.WEB_FORM
    assert lead.tags == {"hot"}
    assert lead.id.startswith("led_")


@pytest.mark.parametrize(
    "kwargs",
    [{"name": None, "emails": ["a@example.com"]}, {"name": None, "company": "Acme"}],
)
def test_a_contact_point_or_company_is_enough(kwargs: dict[str, object]) -> None:
    assert Lead.create(**kwargs).name is None  # type: ignore[arg-type]


def test_a_lead_needs_something() -> None:
    with pytest.raises(ValidationError) as info:
        Lead.create(name=None)
    assert info.value.paths == ("name",)
    with pytest.raises(ValidationError) as info:
        Lead.create(name="  ")
    assert info.value.paths == ("name",)


def test_create_reports_every_bad_field() -> None:
    with pytest.raises(ValidationError) as info:
        Lead.create(
            name="Grace",
            emails=["nope"],
            phones=["0701234567"],
            source="carrier pigeon",
            tags=[""],
            custom_fields={"": 1},
        )
    assert set(info.value.paths) == {"emails[0]", "phones[0]", "source", "tags[0]", "custom_fields"}


@pytest.mark.parametrize("score", [2**63, -(2**63) - 1, 10**30, "7", 7.0, True])
def test_a_score_is_a_64_bit_integer(score: object) -> None:
    with pytest.raises(ValidationError) as info:
        Lead.create(name="Grace", score=score)  # type: ignore[arg-type]
    assert info.value.paths == ("score",)
    assert Lead.create(name="Grace", score=2**63 - 1).score == 2**63 - 1


@pytest.mark.parametrize(
    ("start", "target"), PAIRS, ids=[f"{a.value}->{b.value}" for a, b in PAIRS]
)
def test_every_status_pair(start: LeadStatus, target: LeadStatus) -> None:
    lead = _lead(start)
    customer_id = Customer.create(name="Grace").id if target is S.CONVERTED else None
    if (start, target) in ALLOWED:
        moved = lead.transition_to(target, reason="checked", customer_id=customer_id)
        assert moved.status is target
        assert moved.status_reason == "checked"
        assert moved.id == lead.id
        assert start.can_become(target)
    else:
        with pytest.raises(InvalidTransition):
            lead.transition_to(target, reason="checked", customer_id=customer_id)
        assert not start.can_become(target)


def test_disqualifying_needs_a_reason() -> None:
    for status in (S.NEW, S.CONTACTED, S.QUALIFIED):
        with pytest.raises(InvalidTransition):
            _lead(status).transition_to(S.DISQUALIFIED)
        with pytest.raises(InvalidTransition):
            _lead(status).transition_to(S.DISQUALIFIED, reason="  ")


def test_new_cannot_jump_to_converted() -> None:
    with pytest.raises(InvalidTransition):
        _lead(S.NEW).transition_to(S.CONVERTED)


def test_conversion_records_the_customer() -> None:
    customer = Customer.create(name="Grace Hopper")
    lead = _lead(S.QUALIFIED).transition_to(S.CONVERTED, customer_id=customer.id)
    assert lead.converted_customer_id == customer.id
    assert not lead.status.is_open
    with pytest.raises(ValidationError) as info:
        _lead(S.NEW).transition_to(S.CONTACTED, customer_id=customer.id)
    assert info.value.paths == ("customer_id",)
    with pytest.raises(ValidationError):
        _lead(S.QUALIFIED).transition_to(S.CONVERTED, customer_id="cus_bad")  # type: ignore[arg-type]
    # A status may be given by its value, like everywhere else in the API.
    assert _lead().transition_to("contacted").status is S.CONTACTED
    with pytest.raises(ValidationError) as bad:
        _lead().transition_to("called")
    assert bad.value.paths == ("status",)


def test_recycling_clears_the_reason() -> None:
    recycled = _lead(S.DISQUALIFIED).transition_to(S.NEW)
    assert recycled.status is S.NEW
    assert recycled.status_reason is None
    assert recycled.status.is_open


@given(leads(statuses=[S.NEW]), st.lists(st.sampled_from(LeadStatus), max_size=8))
def test_random_walks_follow_the_model(lead: Lead, steps: list[LeadStatus]) -> None:
    for target in steps:
        allowed = (lead.status, target) in ALLOWED
        try:
            moved = lead.transition_to(target, reason="step")
        except InvalidTransition:
            assert not allowed
            continue
        assert allowed
        assert moved.status is target
        lead = moved


def test_other_changes() -> None:
    lead = _lead()
    assert lead.scored(90).score == 90
    assert lead.assigned_to("usr_7").owner == "usr_7"
    assert lead.add_tag("HOT").tags == {"hot"}
    more = lead.with_email("G.Hopper@Example.com").with_email("g.hopper@example.com")
    assert len(more.emails) == 2
    assert (
        len(lead.with_phone("+1 202 555 0143").with_phone("(202) 555-0143", region="US").phones)
        == 1
    )
    with pytest.raises(ValidationError):
        lead.with_email("not an email")
    with pytest.raises(ValidationError):
        attrs.evolve(lead, score=True)


@pytest.mark.parametrize(
    ("field", "value"),
    [("emails", "ada@example.com"), ("phones", "+46 70 123 45 67"), ("tags", "vip")],
)
def test_one_string_for_a_collection_is_one_item_alike(field: str, value: str) -> None:
    alone = Lead.create(name="Ada", **{field: value})  # type: ignore[arg-type]
    lead = Lead.create(name="Ada", **{field: [value]})  # type: ignore[arg-type]
    assert len(getattr(lead, field)) == 1
    assert getattr(alone, field) == getattr(lead, field)
