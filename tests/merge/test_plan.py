"""plan_merge: pure survivorship, field by field."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore import (
    Channel,
    ConsentStatus,
    Customer,
    CustomerKind,
    Direction,
    Interaction,
    Lead,
    LeadStatus,
    LifecycleStage,
    ValidationError,
)
from crmcore.consent import current_consents
from crmcore.merge import (
    Candidate,
    MergePlan,
    MergePolicy,
    Survivorship,
    default_survivor,
    plan_merge,
)
from tests.merge.records import BASE, customers, groups, interactions_for, leads, stamps


def customer_of(plan: MergePlan) -> Customer:
    assert isinstance(plan.result, Customer)
    return plan.result


def _email_keys(record: Customer | Lead) -> set[str]:
    return {e.address.match_key for e in record.emails}


def _phone_keys(record: Customer | Lead) -> set[tuple[str, str | None]]:
    return {(p.number.e164, p.number.extension) for p in record.phones}


@given(groups())
def test_nothing_is_lost_from_the_union_fields(records: list[Customer]) -> None:
    plan = plan_merge(records)
    result = plan.result
    assert isinstance(result, Customer)
    for record in records:
        assert _email_keys(record) <= _email_keys(result)
        assert _phone_keys(record) <= _phone_keys(result)
        assert record.tags <= result.tags
        assert set(record.identifiers) <= set(result.identifiers)
        assert set(record.custom_fields) <= set(result.custom_fields)
        assert {(c.channel, c.purpose) for c in record.consents} <= {
            (c.channel, c.purpose) for c in result.consents
        }
        if record.notes:
            assert record.notes in (result.notes or "")


@given(groups())
def test_every_value_is_on_the_survivor_or_reported_as_a_conflict(
    records: list[Customer],
) -> None:
    plan = plan_merge(records)
    for decision in plan.decisions:
        lost = {c.record_id for c in decision.conflicts}
        for record in records:
            value = getattr(record, decision.field)
            if value in (None, (), frozenset(), "") or not hasattr(value, "__eq__"):
                continue
            if decision.field in {
                "emails",
                "phones",
                "addresses",
                "tags",
                "notes",
                "consent_events",
            }:
                continue  # unions: covered by the test above
            if decision.field in {"custom_fields", "identifiers"}:
                clash = any(decision.value.get(k) != v for k, v in value.items())
                assert clash == (record.id in lost)
                continue
            assert value == decision.value or record.id in lost, decision.field


@given(groups())
def test_the_survivor_keeps_its_primary_contact_points_and_id(records: list[Customer]) -> None:
    plan = plan_merge(records)
    survivor = plan.survivor
    assert plan.result.id == survivor.id
    assert plan.result.version == survivor.version
    if survivor.emails:
        assert plan.result.emails[0] == survivor.emails[0]
    if survivor.phones:
        assert plan.result.phones[0] == survivor.phones[0]
    own = _email_keys(survivor)
    assert {e.address.match_key for e in plan.secondary["emails"]} == (
        _email_keys(plan.result) - own
    )


@given(groups(), stamps())
def test_a_withdrawal_is_never_upgraded(records: list[Customer], at: datetime) -> None:
    result = plan_merge(records, at=at).result
    assert isinstance(result, Customer)
    for record in records:
        # Every record's ledger is kept whole.
        assert set(record.consent_events) <= set(result.consent_events)
        for consent in current_consents(record.consent_events, at=at):
            if consent.status is ConsentStatus.WITHDRAWN:
                merged = result.consent_for(
                    consent.channel, consent.purpose, contact_point=consent.contact_point, at=at
                )
                assert merged is not None
                assert merged.status is ConsentStatus.WITHDRAWN


@given(groups())
def test_the_stage_is_the_furthest_along(records: list[Customer]) -> None:
    result = plan_merge(records).result
    assert isinstance(result, Customer)
    assert result.stage.rank == max(r.stage.rank for r in records)
    winner = next(
        r
        for r in plan_merge(records).records
        if isinstance(r, Customer) and r.stage == result.stage
    )
    assert result.stage_reason == winner.stage_reason


@given(groups(), st.data())
def test_a_named_survivor_survives_and_the_others_retire(
    records: list[Customer], data: st.DataObject
) -> None:
    chosen = data.draw(st.sampled_from(records))
    plan = plan_merge(records, survivor=chosen.id)
    assert plan.survivor_id == chosen.id
    assert set(plan.merged_ids) == {r.id for r in records} - {chosen.id}
    for retired in plan.retired:
        assert isinstance(retired, Customer)
        assert retired.merged_into == chosen.id
        before = next(r for r in records if r.id == retired.id)
        assert attrs.evolve(retired, merged_into=None) == before


@given(groups())
def test_planning_is_pure_and_deterministic(records: list[Customer]) -> None:
    copies = list(records)
    first = plan_merge(records)
    second = plan_merge(list(reversed(records)))
    assert records == copies
    assert first.survivor_id == second.survivor_id
    assert first.result == second.result


@given(st.lists(customers(), min_size=1, max_size=3), st.lists(leads(), min_size=1, max_size=3))
def test_customers_survive_over_leads_and_leads_become_converted(
    people: list[Customer], prospects: list[Lead]
) -> None:
    plan = plan_merge([*prospects, *people])
    assert isinstance(plan.result, Customer)
    for record in prospects:
        assert _email_keys(record) <= _email_keys(plan.result)
        assert _phone_keys(record) <= _phone_keys(plan.result)
        assert record.tags <= plan.result.tags
    retired_leads = [r for r in plan.retired if isinstance(r, Lead)]
    assert len(retired_leads) == len(prospects)
    for lead in retired_leads:
        assert lead.status is LeadStatus.CONVERTED
        assert lead.converted_customer_id == plan.survivor_id
        assert lead.merged_into is None


@given(st.lists(leads(), min_size=2, max_size=4, unique_by=lambda lead: lead.id))
def test_leads_merge_into_a_lead(records: list[Lead]) -> None:
    plan = plan_merge(records)
    assert isinstance(plan.result, Lead)
    assert plan.result.score == max((r.score for r in records if r.score is not None), default=None)
    assert all(isinstance(r, Lead) and r.merged_into == plan.survivor_id for r in plan.retired)


def test_default_survivor_order_is_customer_then_completeness_then_age() -> None:
    old = attrs.evolve(Customer.create(name="Ada"), created_at=BASE)
    young_full = attrs.evolve(
        Customer.create(name="Ada Lovelace", emails=["ada@example.com"]),
        created_at=BASE + timedelta(days=1),
    )
    young_same = attrs.evolve(Customer.create(name="Ada"), created_at=BASE + timedelta(days=2))
    lead = Lead.create(name="Ada Lovelace", emails=["a@example.com", "b@example.com"])
    assert default_survivor([old, young_full, lead]) is young_full
    assert default_survivor([young_same, old]) is old


def test_related_records_are_repointed_in_the_plan() -> None:
    org_a = Customer.create(name="Acme", kind=CustomerKind.ORGANIZATION)
    org_b = Customer.create(name="ACME Ltd", kind=CustomerKind.ORGANIZATION)
    person = Customer.create(name="Ada").in_organization(org_b.id)
    lead = attrs.evolve(
        Lead.create(name="Ada"), status=LeadStatus.CONVERTED, converted_customer_id=org_b.id
    )
    mail = Interaction.log(
        channel=Channel.EMAIL,
        direction=Direction.INBOUND,
        occurred_at=BASE,
        customer_id=org_b.id,
    )
    unrelated = Interaction.log(
        channel=Channel.EMAIL, direction=Direction.INBOUND, occurred_at=BASE, customer_id=person.id
    )
    plan = plan_merge(
        [org_a, org_b],
        survivor=org_a.id,
        interactions=[mail, unrelated],
        leads=[lead],
        members=[person],
    )
    moved = {change.id: change for change in plan.related}
    assert set(moved) == {mail.id, lead.id, person.id}
    after_mail = moved[mail.id].after
    assert isinstance(after_mail, Interaction)
    assert after_mail.record_ids == (org_a.id,)
    after_lead = moved[lead.id].after
    assert isinstance(after_lead, Lead)
    assert after_lead.converted_customer_id == org_a.id
    after_person = moved[person.id].after
    assert isinstance(after_person, Customer)
    assert after_person.organization_id == org_a.id
    assert plan.interaction_ids == (mail.id,)


@given(groups(max_size=3), st.data())
def test_interactions_follow_the_survivor(records: list[Customer], data: st.DataObject) -> None:
    ids: list[str] = [r.id for r in records]
    interactions = data.draw(interactions_for(ids))
    plan = plan_merge(records, interactions=interactions)
    moved = {c.id: c.after for c in plan.related}
    for interaction in interactions:
        after = moved.get(interaction.id, interaction)
        assert isinstance(after, Interaction)
        assert set(after.record_ids) == {plan.survivor_id}
        assert (interaction.id in moved) == (set(interaction.record_ids) != {plan.survivor_id})


# ----------------------------------------------------------------- the rules one by one


def _two(**changes: Any) -> tuple[Customer, Customer]:
    a = attrs.evolve(Customer.create(name="Ada Lovelace"), created_at=BASE, updated_at=BASE)
    b = attrs.evolve(
        Customer.create(name="Ada"),
        created_at=BASE + timedelta(days=1),
        updated_at=BASE + timedelta(days=5),
    )
    return attrs.evolve(a, **changes.get("a", {})), attrs.evolve(b, **changes.get("b", {}))


def test_prefer_survivor_fills_an_empty_value_from_the_others() -> None:
    a, b = _two(a={"owner": None}, b={"owner": "u2"})
    decision = plan_merge([a, b], survivor=a.id).decision("owner")
    assert decision.value == "u2"
    assert decision.rule == "prefer_survivor"
    assert decision.source_ids == (b.id,)
    assert decision.changed


def test_most_recent_takes_the_latest_updated_record() -> None:
    a, b = _two(a={"owner": "u1"}, b={"owner": "u2"})
    plan = plan_merge([a, b], survivor=a.id, policy={"owner": Survivorship.MOST_RECENT})
    assert plan.result.owner == "u2"
    assert [c.record_id for c in plan.decision("owner").conflicts] == [a.id]


def test_most_complete_takes_the_fullest_name() -> None:
    a, b = _two()
    plan = plan_merge([b, a], survivor=b.id, policy={"name": Survivorship.MOST_COMPLETE})
    assert plan.result.name == a.name


def test_most_frequent_takes_the_majority() -> None:
    a, b = _two(a={"owner": "u1"}, b={"owner": "u2"})
    c = attrs.evolve(b, id=Customer.create(name="x").id)
    plan = plan_merge([a, b, c], survivor=a.id, policy={"owner": Survivorship.MOST_FREQUENT})
    assert plan.result.owner == "u2"


def test_max_and_min_on_dates() -> None:
    from datetime import date

    a, b = _two(a={"birth_date": date(1990, 1, 1)}, b={"birth_date": date(1980, 1, 1)})
    low = customer_of(plan_merge([a, b], policy={"birth_date": Survivorship.MIN}))
    high = customer_of(plan_merge([a, b], policy=MergePolicy({"birth_date": Survivorship.MAX})))
    assert low.birth_date == date(1980, 1, 1)
    assert high.birth_date == date(1990, 1, 1)


def test_concatenate_keeps_every_distinct_note_survivor_first() -> None:
    a, b = _two(a={"notes": "first"}, b={"notes": "second"})
    assert customer_of(plan_merge([a, b], survivor=a.id)).notes == "first\n\nsecond"
    a, b = _two(a={"notes": "same"}, b={"notes": "same"})
    assert customer_of(plan_merge([a, b], survivor=a.id)).notes == "same"


def test_union_deduplicates_by_match_key_not_raw_text() -> None:
    a, b = _two()
    a = a.with_email("Ada@Example.com")
    b = b.with_email("ada@example.COM").with_email("other@example.com")
    result = plan_merge([a, b], survivor=a.id).result
    assert [str(e.address) for e in result.emails] == ["Ada@example.com", "other@example.com"]


def test_a_callable_rule_decides_and_is_named() -> None:
    def shortest(field: str, candidates: Sequence[Candidate]) -> Any:
        return min((c.value for c in candidates if c.value), key=len)

    a, b = _two(a={"owner": "longer"}, b={"owner": "u2"})
    plan = plan_merge([a, b], survivor=a.id, policy={"owner": shortest})
    assert plan.result.owner == "u2"
    assert plan.decision("owner").rule == "custom:shortest"


def test_consent_most_restrictive_even_when_the_grant_is_newer() -> None:
    a, b = _two()
    a = a.with_consent(Channel.EMAIL, "marketing", ConsentStatus.WITHDRAWN, at=BASE)
    b = b.with_consent(
        Channel.EMAIL, "marketing", ConsentStatus.GRANTED, at=BASE + timedelta(days=30)
    )
    for survivor in (a, b):
        result = plan_merge([a, b], survivor=survivor.id).result
        assert isinstance(result, Customer)
        consent = result.consent_for(Channel.EMAIL, "marketing")
        assert consent is not None
        assert consent.status is ConsentStatus.WITHDRAWN


def test_stage_furthest_along_with_its_reason() -> None:
    a, b = _two(
        a={"stage": LifecycleStage.LEAD, "stage_reason": None},
        b={"stage": LifecycleStage.CUSTOMER, "stage_reason": "signed"},
    )
    result = plan_merge([a, b], survivor=a.id).result
    assert isinstance(result, Customer)
    assert result.stage is LifecycleStage.CUSTOMER
    assert result.stage_reason == "signed"


@pytest.mark.parametrize(
    ("records", "kwargs", "path"),
    [
        ("one", {}, "records"),
        ("same", {}, "records"),
        ("mixed_kinds", {}, "records"),
        ("pair", {"survivor": "cus_01ARZ3NDEKTSV4RRFFQ69G5FAV"}, "survivor"),
        ("pair", {"policy": {"nonsense": Survivorship.UNION}}, "policy.nonsense"),
        ("pair", {"policy": {"owner": Survivorship.UNION}}, "policy.owner"),
        ("pair", {"policy": {"owner": Survivorship.FURTHEST}}, "policy.owner"),
        ("pair", {"policy": {"notes": Survivorship.MOST_RESTRICTIVE}}, "policy.notes"),
        ("merged", {}, "records"),
        ("lead_survivor", {}, "survivor"),
    ],
)
def test_bad_merges_name_the_problem(records: str, kwargs: dict[str, Any], path: str) -> None:
    a, b = _two(a={"owner": "u1", "notes": "n"}, b={"owner": "u2", "notes": "m"})
    org = Customer.create(name="Acme", kind=CustomerKind.ORGANIZATION)
    lead = Lead.create(name="Ada")
    groups_by_name: dict[str, list[Customer | Lead]] = {
        "one": [a],
        "same": [a, a],
        "mixed_kinds": [a, org],
        "pair": [a, b],
        "merged": [a, attrs.evolve(b, merged_into=a.id)],
        "lead_survivor": [a, lead],
    }
    group = groups_by_name[records]
    if records == "lead_survivor":
        kwargs = {"survivor": lead.id}
    with pytest.raises(ValidationError) as info:
        plan_merge(group, **kwargs)
    assert info.value.paths[0] == path


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"records": 5}, "records"),
        ({"interactions": 5}, "interactions"),
        ({"interactions": ["ixn"]}, "interactions"),
        ({"leads": [5]}, "leads"),
        ({"members": "cus_01"}, "members"),
    ],
)
def test_odd_arguments_are_refused_by_name(kwargs: dict[str, Any], path: str) -> None:
    a, b = _two(a={"owner": "u1"}, b={"owner": "u2"})
    with pytest.raises(ValidationError) as info:
        plan_merge(**({"records": [a, b]} | kwargs))
    assert info.value.paths == (path,)


def test_reprs_hide_personal_data() -> None:
    a, b = _two(a={"owner": "u1"}, b={"owner": "u2"})
    a = a.with_email("secret.person@example.com")
    plan = plan_merge([a, b])
    text = repr(plan) + repr(plan.decisions) + repr(plan.decision("emails").conflicts)
    assert "secret" not in text
    assert "Lovelace" not in text


def test_a_merge_at_the_notes_cap_truncates_but_reports_the_loss() -> None:
    a, b = _two(a={"notes": "x" * 99_999}, b={"notes": "y" * 10})
    plan = plan_merge([a, b], survivor=a.id)
    notes = customer_of(plan).notes
    assert notes is not None
    assert len(notes) == 100_000
    assert [c.record_id for c in plan.decision("notes").conflicts] == [b.id]


def test_lead_status_follows_the_furthest_and_carries_its_customer() -> None:
    customer_id = Customer.create(name="X").id
    a = attrs.evolve(Lead.create(name="Ada"), status=LeadStatus.QUALIFIED)
    b = attrs.evolve(
        Lead.create(name="Ada"),
        status=LeadStatus.CONVERTED,
        converted_customer_id=customer_id,
        created_at=datetime(2020, 1, 1, tzinfo=UTC),
    )
    result = plan_merge([a, b], survivor=a.id).result
    assert isinstance(result, Lead)
    assert result.status is LeadStatus.CONVERTED
    assert result.converted_customer_id == customer_id
