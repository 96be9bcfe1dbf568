"""Opportunities: creation, stage moves (the rules, the append-only history), exact weighting."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, cast

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore import (
    ContactRole,
    DealStatus,
    InvalidTransition,
    LeadSource,
    Money,
    Opportunity,
    Pipeline,
    StageChange,
    ValidationError,
    from_dict,
    from_json,
    to_dict,
    to_json,
)
from crmcore.ids import new_customer_id, new_lead_id
from crmcore.opportunities import MAX_DEAL_AMOUNT_DIGITS, ROLE_DECISION_MAKER
from crmcore.testing.strategies import money, opportunities, pipelines

PIPELINE = Pipeline.create(
    "b2b",
    "B2B",
    [
        {"id": "qualify", "name": "Qualify", "probability": "0.1"},
        {"id": "propose", "name": "Propose", "probability": "0.5"},
        {"id": "won", "name": "Won", "probability": 1, "status": "won"},
        {"id": "lost", "name": "Lost", "probability": 0, "status": "lost"},
    ],
)
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CUSTOMER = new_customer_id()


def _deal(**changes: object) -> Opportunity:
    arguments: dict[str, object] = {
        "name": "Fleet renewal",
        "customer_id": CUSTOMER,
        "pipeline": PIPELINE,
        "amount": Money.of("12000.00", "EUR"),
        "at": T0,
    }
    return Opportunity.create(**(arguments | changes))  # type: ignore[arg-type]


def test_create() -> None:
    contact = new_customer_id()
    lead = new_lead_id()
    deal = _deal(
        close_date="2026-03-31",
        owner="usr_ann",
        contacts=[ContactRole(contact, ROLE_DECISION_MAKER)],
        lead_id=lead,
        source="web_form",
        campaign="Spring",
        tags=["Fleet"],
        custom_fields={"segment": "smb"},
    )
    assert (deal.stage_id, deal.status, deal.probability) == (
        "qualify",
        DealStatus.OPEN,
        Decimal("0.1"),
    )
    assert deal.stage_history == (StageChange("qualify", DealStatus.OPEN, Decimal("0.1"), T0),)
    assert deal.close_date == date(2026, 3, 31)
    assert deal.source is LeadSource.WEB_FORM
    assert deal.tags == frozenset({"fleet"})
    assert deal.closed_at is None
    assert not deal.is_closed
    assert deal.id.startswith("opp_")
    assert deal.version == 0


def test_create_at_a_chosen_stage_but_not_a_lost_one() -> None:
    assert _deal(stage="propose").probability == Decimal("0.5")
    won = _deal(stage="won")
    assert won.closed_at == T0
    assert won.won_at == T0
    with pytest.raises(InvalidTransition):
        _deal(stage="lost")
    with pytest.raises(ValidationError) as info:
        _deal(stage="nope")
    assert info.value.paths == ("stage",)


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"amount": Money.of("-1", "EUR")}, "amount"),
        ({"amount": Money.of("1" * (MAX_DEAL_AMOUNT_DIGITS + 1), "EUR")}, "amount"),
        ({"amount": 12}, "amount"),
        ({"close_date": datetime(2026, 3, 31, tzinfo=UTC)}, "close_date"),
        ({"close_date": "31/03/2026"}, "close_date"),
        ({"close_date": "2026-02-30"}, "close_date"),
        ({"source": "carrier pigeon"}, "source"),
        ({"lead_id": "led_nope"}, "lead_id"),
        ({"contacts": [(CUSTOMER, "user")]}, "contacts[0]"),
        ({"contacts": "cus_x"}, "contacts"),
        ({"at": datetime(2026, 1, 1)}, "at"),  # naive on purpose
        ({"tags": 5}, "tags"),
    ],
)
def test_bad_input_names_the_field(changes: dict[str, object], path: str) -> None:
    with pytest.raises(ValidationError) as info:
        _deal(**changes)
    assert path in info.value.paths


def test_the_error_never_repeats_the_value() -> None:
    with pytest.raises(ValidationError) as info:
        Opportunity.create(name="Secret Deal With ACME", customer_id="Jane Doe", pipeline=PIPELINE)  # type: ignore[arg-type]
    assert info.value.paths == ("customer_id",)
    assert "Jane" not in str(info.value)


def test_a_currency_outside_iso_4217_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        _deal(amount=Money.of("10", "XYZ", field="amount"))
    assert info.value.paths == ("amount.currency",)


def test_repr_shows_no_name() -> None:
    deal = _deal()
    assert "Fleet" not in repr(deal)
    assert deal.id in repr(deal)
    lost = deal.move_to(PIPELINE, "lost", at=T0, reason="Went with Initech")
    assert "Initech" not in repr(lost)
    assert "Initech" not in repr(lost.stage_history)


def test_moves_forwards_backwards_and_closing() -> None:
    deal = _deal()
    proposed = deal.move_to(PIPELINE, "propose", at=T0 + timedelta(days=2))
    back = proposed.move_to(PIPELINE, "qualify", at=T0 + timedelta(days=3))
    assert [c.stage_id for c in back.stage_history] == ["qualify", "propose", "qualify"]
    assert back.stage_history[2].from_stage_id == "propose"
    won = back.move_to(PIPELINE, "won", at=T0 + timedelta(days=10))
    assert won.status is DealStatus.WON
    assert won.probability == 1
    assert won.closed_at == won.won_at == T0 + timedelta(days=10)
    assert won.lost_at is None
    assert won.time_in_stages() == {
        "qualify": timedelta(days=2) + timedelta(days=7),
        "propose": timedelta(days=1),
        "won": timedelta(0),
    }


def test_a_loss_needs_a_reason_and_closes_the_deal() -> None:
    deal = _deal()
    with pytest.raises(InvalidTransition):
        deal.move_to(PIPELINE, "lost", at=T0)
    with pytest.raises(InvalidTransition):
        deal.move_to(PIPELINE, "lost", at=T0, reason="   ")
    lost = deal.move_to(PIPELINE, "lost", at=T0 + timedelta(hours=1), reason="price")
    assert lost.lost_reason == "price"
    assert lost.lost_at == T0 + timedelta(hours=1)
    assert lost.probability == 0
    with pytest.raises(InvalidTransition):
        lost.move_to(PIPELINE, "qualify")
    reopened = lost.move_to(PIPELINE, "qualify", reopen=True, at=T0 + timedelta(hours=2))
    assert reopened.status is DealStatus.OPEN
    assert reopened.lost_reason is None
    assert reopened.closed_at is None
    assert reopened.stage_history[-2].reason == "price"


def test_bad_moves() -> None:
    deal = _deal()
    other = Pipeline.create(
        "web",
        "Web",
        [
            {"id": "qualify", "name": "Q", "probability": "0.1"},
            {"id": "won", "name": "W", "probability": 1, "status": "won"},
        ],
    )
    with pytest.raises(ValidationError) as info:
        deal.move_to(other, "won")
    assert info.value.paths == ("stage",)
    with pytest.raises(ValidationError) as info:
        deal.move_to(PIPELINE, "nowhere")
    assert info.value.paths == ("stage",)
    with pytest.raises(ValidationError) as info:
        deal.move_to(PIPELINE, "propose", at=T0 - timedelta(seconds=1))
    assert info.value.paths == ("at",)
    with pytest.raises(InvalidTransition):
        deal.move_to(PIPELINE, "qualify", at=T0)
    with pytest.raises(ValidationError) as info:
        deal.move_to(PIPELINE, "won", at=T0).move_to(PIPELINE, "qualify", reopen="yes")  # type: ignore[arg-type]
    assert info.value.paths == ("reopen",)


def test_times_convert_to_utc() -> None:
    local = datetime(2026, 1, 5, 12, 0, tzinfo=timezone(timedelta(hours=3)))
    deal = _deal(at=local)
    assert deal.stage_history[0].at == T0
    assert deal.stage_history[0].at.tzinfo is UTC


def test_probability_override() -> None:
    deal = _deal().with_probability("0.35")
    assert deal.probability == Decimal("0.35")
    assert deal.weighted_amount == Money.of("4200.0000", "EUR")
    for bad in ("1.01", True, "0.00001", "lots"):
        with pytest.raises(ValidationError) as info:
            deal.with_probability(bad)
        assert info.value.paths == ("probability",)
    won = deal.move_to(PIPELINE, "won", at=T0)
    with pytest.raises(ValidationError):
        won.with_probability("0.5")


def test_derived_fields_must_agree_with_the_history() -> None:
    deal = _deal()
    for changes, path in [
        ({"stage_id": "propose"}, "stage_id"),
        ({"status": DealStatus.WON}, "status"),
        ({"stage_history": ()}, "stage_history"),
        ({"closed_at": T0}, "closed_at"),
        ({"lost_reason": "x"}, "lost_reason"),
    ]:
        with pytest.raises(ValidationError) as info:
            attrs.evolve(deal, **cast("dict[str, Any]", changes))
        assert path in info.value.paths
    moved = deal.move_to(PIPELINE, "propose", at=T0 + timedelta(days=1))
    early = attrs.evolve(moved.stage_history[1], at=T0 - timedelta(days=1))
    with pytest.raises(ValidationError) as info:
        attrs.evolve(moved, stage_history=(moved.stage_history[0], early))
    assert info.value.paths == ("stage_history[1].at",)


def test_time_in_stages_of_an_open_deal_runs_until_now() -> None:
    deal = _deal().move_to(PIPELINE, "propose", at=T0 + timedelta(days=1))
    assert deal.time_in_stages(now=T0 + timedelta(days=4)) == {
        "qualify": timedelta(days=1),
        "propose": timedelta(days=3),
    }
    with pytest.raises(ValidationError) as info:
        deal.time_in_stages(now=T0)
    assert info.value.paths == ("now",)


def test_weighted_amount_is_exact_beyond_28_digits() -> None:
    # 34 digits: the default decimal context would round the product to 28.
    amount = Money(Decimal("9" * 30 + ".1234"), "EUR")
    weighted = _deal(amount=amount).with_probability("0.9999").weighted_amount
    assert weighted is not None
    assert weighted.amount == Decimal(f"{int('9' * 30 + '1234') * 9999}E-8")
    assert len(weighted.amount.as_tuple().digits) == 38
    assert _deal(amount=None).weighted_amount is None


@given(money(), st.integers(0, 10_000))
def test_weighted_amount_is_the_exact_product(amount: Money, basis_points: int) -> None:
    positive = Money(abs(amount.amount), amount.currency)
    probability = Decimal(basis_points).scaleb(-4)
    deal = _deal(amount=positive, stage="propose").with_probability(probability)
    weighted = deal.weighted_amount
    assert weighted is not None
    assert weighted.currency == amount.currency
    # Integer arithmetic as the independent oracle: no decimal context involved.
    _, digits, exponent = positive.amount.as_tuple()
    coefficient = int("".join(map(str, digits)) or "0")
    assert isinstance(exponent, int)
    assert weighted.amount == Decimal(f"{coefficient * basis_points}E{exponent - 4}")


# --------------------------------------------------------------------------- the state machine

_MOVE = st.tuples(st.integers(0, 9), st.integers(0, 3), st.booleans(), st.booleans())


@given(pipelines(), st.lists(_MOVE, max_size=8))
def test_every_sequence_of_moves_obeys_the_rules(
    pipeline: Pipeline, moves: list[tuple[int, int, bool, bool]]
) -> None:
    start = next(s for s in pipeline.stages if s.status is not DealStatus.LOST)
    deal = Opportunity.create(
        name="Deal", customer_id=CUSTOMER, pipeline=pipeline, stage=start.id, at=T0
    )
    at = T0
    for pick, days, with_reason, reopen in moves:
        target = pipeline.stages[pick % len(pipeline.stages)]
        when = at + timedelta(days=days)
        reason = "lost it" if with_reason else None
        # The rules, written out independently of move_to:
        refused = (
            (deal.status is not DealStatus.OPEN and not reopen)
            or target.id == deal.stage_id
            or (target.status is DealStatus.LOST and reason is None)
        )
        if refused:
            with pytest.raises(InvalidTransition):
                deal.move_to(pipeline, target.id, at=when, reason=reason, reopen=reopen)
            continue
        before = deal
        deal = deal.move_to(pipeline, target.id, at=when, reason=reason, reopen=reopen)
        at = when
        assert deal.stage_history[: len(before.stage_history)] == before.stage_history
        last = deal.stage_history[-1]
        assert len(deal.stage_history) == len(before.stage_history) + 1
        assert (last.stage_id, last.status, last.from_stage_id) == (
            target.id,
            target.status,
            before.stage_id,
        )
        assert (deal.stage_id, deal.status) == (last.stage_id, last.status)
        assert deal.probability == target.probability == last.probability
        assert deal.closed_at == (when if target.status is not DealStatus.OPEN else None)
        assert (deal.lost_reason is not None) == (target.status is DealStatus.LOST)
    durations = deal.time_in_stages(now=at)
    assert sum(durations.values(), timedelta(0)) == at - T0


@given(opportunities())
def test_drawn_deals_are_consistent_and_round_trip(deal: Opportunity) -> None:
    last = deal.stage_history[-1]
    assert (deal.stage_id, deal.status) == (last.stage_id, last.status)
    assert all(
        a.at <= b.at for a, b in zip(deal.stage_history, deal.stage_history[1:], strict=False)
    )
    assert from_dict(Opportunity, to_dict(deal)) == deal
    assert from_json(Opportunity, to_json(deal)) == deal


@given(pipelines().flatmap(lambda p: st.tuples(st.just(p), opportunities(pipeline=p))))
def test_drawn_deals_obey_their_pipeline(drawn: tuple[Pipeline, Opportunity]) -> None:
    pipeline, deal = drawn
    assert deal.pipeline_id == pipeline.id
    for change in deal.stage_history:
        stage = pipeline.stage(change.stage_id)
        assert change.status is stage.status
        assert change.probability == stage.probability
        assert (change.reason is not None) or stage.status is not DealStatus.LOST


def test_a_document_with_a_bad_history_is_refused_by_path() -> None:
    data = to_dict(_deal().move_to(PIPELINE, "propose", at=T0 + timedelta(days=1)))
    data["stage_history"][1]["probability"] = "2"
    with pytest.raises(ValidationError) as info:
        from_dict(Opportunity, data)
    assert info.value.paths == ("stage_history[1].probability",)


@given(opportunities(customer_ids=[CUSTOMER, new_customer_id(), new_customer_id()]))
def test_repointed_moves_the_deal_and_its_roles_to_the_survivor(deal: Opportunity) -> None:
    survivor = new_customer_id()
    moved = deal.repointed(CUSTOMER, survivor)
    ids = [deal.customer_id, *(c.customer_id for c in deal.contacts)]
    new_ids = [moved.customer_id, *(c.customer_id for c in moved.contacts)]
    assert CUSTOMER not in new_ids
    assert (survivor in new_ids) == (CUSTOMER in ids)
    assert {(c.role, c.customer_id) for c in moved.contacts} == {
        (c.role, survivor if c.customer_id == CUSTOMER else c.customer_id) for c in deal.contacts
    }
    assert moved.stage_history == deal.stage_history
    assert deal.repointed(new_customer_id(), survivor) == deal


def test_repointed_keeps_a_role_both_customers_held_once() -> None:
    other = new_customer_id()
    deal = _deal(contacts=[ContactRole(CUSTOMER, "user"), ContactRole(other, "user")])
    assert deal.repointed(other, CUSTOMER).contacts == (ContactRole(CUSTOMER, "user"),)
    with pytest.raises(ValidationError) as info:
        deal.repointed(CUSTOMER, "Jane")  # type: ignore[arg-type]
    assert info.value.paths == ("new",)


@given(opportunities(edge=True))
def test_edge_deals_round_trip_and_weigh_exactly(deal: Opportunity) -> None:
    assert from_json(Opportunity, to_json(deal)) == deal
    if deal.amount is not None:
        assert deal.weighted_amount is not None  # 34 digits times 4 places fit Money


def test_strategy_arguments_are_checked() -> None:
    from hypothesis.errors import InvalidArgument

    from crmcore.testing.strategies import cases, tasks

    for strategy in (
        lambda: opportunities(customer_ids=[]),
        lambda: opportunities(pipeline="b2b"),  # type: ignore[arg-type]
        lambda: tasks(about_ids=[]),
        lambda: cases(customer_ids=[]),
    ):
        with pytest.raises(InvalidArgument):
            strategy()
