"""Small, deterministic record builders for the contract kit.

Contract tests read best with records whose every field is known; the
hypothesis strategies in :mod:`crmcore.testing.strategies` cover the rest.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

from crmcore import (
    Channel,
    ConsentStatus,
    ContactEmail,
    ContactLabel,
    ContactPhone,
    Customer,
    CustomerKind,
    CustomFields,
    Direction,
    EmailAddress,
    ExternalIds,
    Interaction,
    Lead,
    LeadSource,
    LeadStatus,
    LifecycleStage,
    Money,
    Participant,
    ParticipantRole,
    PersonName,
    PhoneNumber,
    PostalAddress,
    RecordId,
)
from crmcore.ids import new_customer_id, new_interaction_id, new_lead_id, new_merge_id
from crmcore.merge_record import MergeRecord, Snapshot

BASE_TIME = datetime(2024, 1, 1, 9, 0, 0, 123456, tzinfo=UTC)
_STAGES = tuple(LifecycleStage)
_OWNERS = (None, "usr_anna", "usr_bo", "usr_anders")
_TAGS: tuple[frozenset[str], ...] = (
    frozenset(),
    frozenset({"vip"}),
    frozenset({"vip", "newsletter"}),
    frozenset({"b2b"}),
)


def email(i: int) -> EmailAddress:
    """A distinct address per ``i``."""
    return EmailAddress.parse(f"person.{i}@example.com")


def phone(i: int) -> PhoneNumber:
    """A distinct Swedish mobile number per ``i`` (below 10,000,000)."""
    return PhoneNumber.from_e164(f"+467{i:08d}")


def customer(i: int = 0, **changes: Any) -> Customer:
    """A person with an email, a phone and an identifier derived from ``i``.

    ``created_at`` is ``BASE_TIME + i minutes``; stage, owner and tags cycle
    with ``i`` so that filters have something to select.
    """
    created = BASE_TIME + timedelta(minutes=i)
    record = Customer(
        id=new_customer_id(),
        kind=CustomerKind.PERSON,
        name=PersonName(given="Person", family=f"Number{i}"),
        emails=(ContactEmail(email(i), ContactLabel.WORK),),
        phones=(ContactPhone(phone(i), ContactLabel.MOBILE),),
        stage=_STAGES[i % len(_STAGES)],
        tags=_TAGS[i % len(_TAGS)],
        owner=_OWNERS[i % len(_OWNERS)],
        identifiers=ExternalIds({"crm": f"C-{i}"}),
        birth_date=date(1950 + i % 50, 1 + i % 12, 1 + i % 28),
        created_at=created,
        updated_at=created,
    )
    return attrs.evolve(record, **changes) if changes else record


def full_customer() -> Customer:
    """A customer with every field set, for round-trip checks."""
    base = customer(7)
    return attrs.evolve(
        base,
        name=PersonName(
            given="Åsa", family="Öberg-Lindqvist", middle="Maj", prefix="Dr", suffix="PhD"
        ),
        emails=(
            ContactEmail(EmailAddress.parse("Asa.Oberg@Example.COM"), ContactLabel.WORK),
            ContactEmail(EmailAddress.parse("åsa@exempel.se"), ContactLabel.HOME),
        ),
        phones=(
            ContactPhone(PhoneNumber.parse("08-123 456 78", "SE"), ContactLabel.WORK),
            ContactPhone(PhoneNumber.parse("+1 212 555 0100 ext. 42"), ContactLabel.OTHER),
        ),
        addresses=(
            PostalAddress(
                lines=("Drottninggatan 1", "c/o Berg"),
                locality="Stockholm",
                postal_code="111 51",
                country="SE",
                label=ContactLabel.WORK,
            ),
        ),
        organization_id=new_customer_id(),
        stage=LifecycleStage.OPPORTUNITY,
        stage_reason="met at the fair",
        tags=frozenset({"vip", "nordics"}),
        custom_fields=CustomFields({"tier": "gold", "seats": 12, "ratio": 0.5, "x": [1, "a"]}),
        owner="usr_anna",
        identifiers=ExternalIds({"vat": "SE556000000001", "crm": "C-7"}),
        birth_date=date(1980, 2, 29),
        notes="Prefers email.\nNever call before 10.",
        merged_into=None,
        updated_at=BASE_TIME + timedelta(days=3, microseconds=7),
    ).with_consent(
        Channel.EMAIL,
        "newsletter",
        ConsentStatus.GRANTED,
        at=BASE_TIME + timedelta(hours=1, microseconds=1),
        source="web form",
    )


def organization(i: int = 0, **changes: Any) -> Customer:
    """An organisation customer derived from ``i``."""
    created = BASE_TIME + timedelta(minutes=i)
    record = Customer(
        id=new_customer_id(),
        kind=CustomerKind.ORGANIZATION,
        name=f"Company {i} AB",
        emails=(ContactEmail(EmailAddress.parse(f"info.{i}@company.example"), ContactLabel.WORK),),
        identifiers=ExternalIds({"vat": f"SE55600{i:07d}"}),
        stage=_STAGES[i % len(_STAGES)],
        created_at=created,
        updated_at=created,
    )
    return attrs.evolve(record, **changes) if changes else record


def lead(i: int = 0, **changes: Any) -> Lead:
    """A lead with an email and a phone derived from ``i``; status and score cycle."""
    created = BASE_TIME + timedelta(minutes=i)
    statuses = (LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUALIFIED)
    record = Lead(
        id=new_lead_id(),
        name=PersonName(given="Lead", family=f"Number{i}"),
        company=f"Prospect {i % 5} Ltd" if i % 3 else None,
        emails=(ContactEmail(email(10_000 + i)),),
        phones=(ContactPhone(phone(10_000 + i)),),
        source=tuple(LeadSource)[i % len(LeadSource)] if i % 4 else None,
        status=statuses[i % len(statuses)],
        score=(i * 7) % 100 if i % 5 else None,
        estimated_value=Money(Decimal(f"{i}.50"), "EUR") if i % 2 else None,
        owner=_OWNERS[i % len(_OWNERS)],
        tags=_TAGS[i % len(_TAGS)],
        created_at=created,
        updated_at=created,
    )
    return attrs.evolve(record, **changes) if changes else record


def interaction(
    record_ids: RecordId | tuple[RecordId, ...],
    i: int = 0,
    **changes: Any,
) -> Interaction:
    """An interaction about ``record_ids`` that occurred ``i`` hours after BASE_TIME."""
    ids = (record_ids,) if isinstance(record_ids, str) else record_ids
    channels = (Channel.EMAIL, Channel.PHONE_CALL, Channel.MEETING, Channel.SMS)
    record = Interaction(
        id=new_interaction_id(),
        channel=channels[i % len(channels)],
        direction=Direction.INBOUND if i % 2 else Direction.OUTBOUND,
        occurred_at=BASE_TIME + timedelta(hours=i),
        participants=tuple(
            Participant(rid, ParticipantRole.PRIMARY if n == 0 else ParticipantRole.CC)
            for n, rid in enumerate(ids)
        ),
        subject=f"Subject {i}",
        body="Hello,\nthanks for your time.",
        duration=timedelta(minutes=i % 30) if i % 3 else None,
        outcome="answered" if i % 2 else None,
        thread_id=f"thr-{i % 4}",
        created_at=BASE_TIME,
        updated_at=BASE_TIME,
    )
    return attrs.evolve(record, **changes) if changes else record


def merge_of(survivor: Customer, other: Customer, **changes: Any) -> MergeRecord:
    """The record of merging stored customer ``other`` into ``survivor``, at BASE_TIME."""
    return MergeRecord(
        id=new_merge_id(),
        survivor_id=survivor.id,
        merged_ids=(other.id,),
        before=Snapshot(customers=(survivor, other)),
        after=Snapshot(customers=(survivor, attrs.evolve(other, merged_into=survivor.id))),
        merged_at=BASE_TIME,
        **changes,
    )
