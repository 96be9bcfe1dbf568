"""Interactions: logging, participants, time zones and repointing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import given

from crmcore import (
    Channel,
    Customer,
    Direction,
    Interaction,
    Lead,
    Participant,
    ParticipantRole,
    ValidationError,
)
from crmcore.ids import CustomerId, LeadId, RecordId
from crmcore.testing.strategies import interactions

WHEN = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def ada() -> CustomerId:
    return Customer.create(name="Ada Lovelace").id


@pytest.fixture
def grace() -> LeadId:
    return Lead.create(name="Grace Hopper").id


def test_log(ada: CustomerId, grace: LeadId) -> None:
    ixn = Interaction.log(
        channel="phone_call",
        direction="outbound",
        occurred_at=WHEN,
        customer_id=ada,
        lead_id=grace,
        subject="  Intro   call ",
        duration=timedelta(minutes=12),
        outcome="interested",
        external_id="call-123",
    )
    assert ixn.channel is Channel.PHONE_CALL
    assert ixn.direction is Direction.OUTBOUND
    assert ixn.subject == "Intro call"
    assert ixn.record_ids == (ada, grace)
    assert ixn.customer_ids == (ada,)
    assert ixn.lead_ids == (grace,)
    assert ixn.version == 0
    assert ixn.id.startswith("ixn_")


def test_extra_participants_are_added_once(ada: CustomerId, grace: LeadId) -> None:
    ixn = Interaction.log(
        channel=Channel.MEETING,
        direction=Direction.INTERNAL,
        occurred_at=WHEN,
        customer_id=ada,
        participants=[
            Participant(ada, ParticipantRole.ATTENDEE),
            Participant(grace, ParticipantRole.ATTENDEE),
        ],
    )
    assert [(p.record_id, p.role) for p in ixn.participants] == [
        (ada, ParticipantRole.PRIMARY),
        (grace, ParticipantRole.ATTENDEE),
    ]


def test_occurred_at_must_be_aware(ada: CustomerId) -> None:
    with pytest.raises(ValidationError) as info:
        Interaction.log(
            channel=Channel.EMAIL,
            direction=Direction.INBOUND,
            occurred_at=datetime(2024, 5, 1, 9, 30),
            customer_id=ada,
        )
    assert info.value.paths == ("occurred_at",)


def test_occurred_at_is_kept_in_utc(ada: CustomerId) -> None:
    local = datetime(2024, 5, 1, 11, 30, tzinfo=timezone(timedelta(hours=2)))
    ixn = Interaction.log(
        channel=Channel.CHAT, direction=Direction.INBOUND, occurred_at=local, customer_id=ada
    )
    assert ixn.occurred_at == WHEN
    assert ixn.occurred_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("kwargs", "paths"),
    [
        ({}, {"participants"}),
        ({"customer_id": "cus_x"}, {"customer_id"}),
        ({"lead_id": "cus_01JD3Z5V8Q6W7X8Y9Z0A1B2C3D"}, {"lead_id"}),
        ({"channel": "pigeon", "direction": "sideways"}, {"channel", "direction"}),
        ({"participants": ["cus_x"]}, {"participants[0]"}),
        ({"participants": 5}, {"participants"}),
    ],
)
def test_log_refuses(kwargs: dict[str, object], paths: set[str]) -> None:
    base: dict[str, object] = {"channel": "email", "direction": "inbound", "occurred_at": WHEN}
    with pytest.raises(ValidationError) as info:
        Interaction.log(**(base | kwargs))  # type: ignore[arg-type]
    assert set(info.value.paths) == paths


def test_constructor_invariants(ada: CustomerId) -> None:
    ixn = Interaction.log(
        channel=Channel.EMAIL, direction=Direction.INBOUND, occurred_at=WHEN, customer_id=ada
    )
    with pytest.raises(ValidationError) as info:
        attrs.evolve(ixn, participants=(Participant(ada), Participant(ada)))
    assert info.value.paths == ("participants",)
    with pytest.raises(ValidationError) as info:
        attrs.evolve(ixn, duration=timedelta(seconds=-1), body="x" * 100_001, subject="\x07")
    assert set(info.value.paths) == {"duration", "body", "subject"}
    with pytest.raises(ValidationError):
        Participant("led_nope")  # type: ignore[arg-type]


def test_repointed_moves_a_participant(ada: CustomerId, grace: LeadId) -> None:
    survivor = Customer.create(name="Ada King").id
    ixn = Interaction.log(
        channel=Channel.EMAIL,
        direction=Direction.INBOUND,
        occurred_at=WHEN,
        customer_id=ada,
        lead_id=grace,
    )
    moved = ixn.repointed(ada, survivor)
    assert moved.record_ids == (survivor, grace)
    # Repointing onto a record already taking part keeps it once.
    assert ixn.repointed(grace, ada).record_ids == (ada,)
    assert ixn.repointed(survivor, ada) == ixn


@given(interactions())
def test_generated_interactions_reference_someone(ixn: Interaction) -> None:
    assert ixn.participants
    assert set(ixn.record_ids) == set(ixn.customer_ids) | set(ixn.lead_ids)
    assert ixn.occurred_at.tzinfo is UTC
    first: RecordId = ixn.record_ids[0]
    assert ixn.repointed(first, first) == ixn
