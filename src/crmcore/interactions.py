"""Interactions: one communication with a customer or lead (an email, a call, a visit...)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import attrs

from crmcore._validation import Problems, enum_member, items_of, tuple_of, utcnow
from crmcore.errors import ValidationError
from crmcore.ids import (
    CaseId,
    CustomerId,
    InteractionId,
    LeadId,
    RecordId,
    is_case_id,
    is_customer_id,
    is_lead_id,
    is_valid_id,
    new_interaction_id,
)
from crmcore.values import MAX_TEXT_LENGTH, check_unicode, optional_text

__all__ = ["Channel", "Direction", "Interaction", "Participant", "ParticipantRole"]

MAX_BODY_LENGTH = 100_000
MAX_DURATION = timedelta(days=36_525)
"""The longest ``duration`` (100 years): every one is stored to the microsecond.

Payloads keep a duration as seconds in a float, which holds every
microsecond up to about 2**33 seconds (272 years) and loses some beyond that.
"""


class Channel(enum.Enum):
    """How a communication happened."""

    EMAIL = "email"
    PHONE_CALL = "phone_call"
    SMS = "sms"
    CHAT = "chat"
    MEETING = "meeting"
    WEB_VISIT = "web_visit"
    WEB_FORM = "web_form"
    SOCIAL = "social"
    LETTER = "letter"
    OTHER = "other"


class Direction(enum.Enum):
    """Who started the communication."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"


class ParticipantRole(enum.Enum):
    """The part a customer or lead played in an interaction."""

    PRIMARY = "primary"
    SENDER = "sender"
    RECIPIENT = "recipient"
    CC = "cc"
    ATTENDEE = "attendee"
    OTHER = "other"


def _check_record_id(value: object, field: str) -> None:
    if not (is_customer_id(value) or is_lead_id(value)):
        raise ValidationError(field, "must be a customer or lead id")


@attrs.frozen
class Participant:
    """A customer or lead taking part in an interaction."""

    record_id: RecordId
    role: ParticipantRole = ParticipantRole.PRIMARY

    def __attrs_post_init__(self) -> None:
        _check_record_id(self.record_id, "record_id")
        if not isinstance(self.role, ParticipantRole):
            raise ValidationError("role", "must be a ParticipantRole")

    @property
    def is_customer(self) -> bool:
        """Whether the participant is a customer (else a lead)."""
        return is_customer_id(self.record_id)


@attrs.frozen(repr=False)
class Interaction:
    """One communication, referencing at least one customer or lead.

    ``external_id`` is a provider's id for the message or call (an email's
    Message-ID, say): stores use it to make ingestion idempotent. ``case_id``
    names the support case the interaction belongs to: a case's interactions
    are its thread.
    """

    id: InteractionId
    channel: Channel
    direction: Direction
    occurred_at: datetime
    participants: tuple[Participant, ...]
    subject: str | None = None
    body: str | None = None
    duration: timedelta | None = None
    outcome: str | None = None
    thread_id: str | None = None
    external_id: str | None = None
    case_id: CaseId | None = None
    version: int = 0
    created_at: datetime = attrs.field(factory=utcnow)
    updated_at: datetime = attrs.field(factory=utcnow)

    def __attrs_post_init__(self) -> None:
        problems = Problems()
        if not is_valid_id(self.id, "ixn_"):
            problems.add("id", "must be an interaction id")
        if not isinstance(self.channel, Channel):
            problems.add("channel", "must be a Channel")
        if not isinstance(self.direction, Direction):
            problems.add("direction", "must be a Direction")
        problems.utc(self, "occurred_at", "created_at", "updated_at")
        try:
            participants = tuple_of(self.participants, Participant, "participants")
        except ValidationError as exc:
            problems.found.extend(exc.problems)
        else:
            object.__setattr__(self, "participants", participants)
            if not participants:
                problems.add("participants", "an interaction needs a customer or a lead")
            elif len({p.record_id for p in participants}) != len(participants):
                problems.add("participants", "lists the same record twice")
        if self.duration is not None and (
            not isinstance(self.duration, timedelta) or self.duration < timedelta(0)
        ):
            problems.add("duration", "must be a non-negative timedelta")
        elif self.duration is not None and self.duration > MAX_DURATION:
            problems.add("duration", "must be at most 36,525 days (100 years)")
        for name, limit in (
            ("subject", MAX_TEXT_LENGTH),
            ("outcome", MAX_TEXT_LENGTH),
            ("thread_id", 500),
            ("external_id", 500),
        ):
            problems.set(self, name, optional_text, getattr(self, name), name, max_length=limit)
        if self.body is not None and (
            not isinstance(self.body, str) or len(self.body) > MAX_BODY_LENGTH
        ):
            problems.add("body", f"must be text of at most {MAX_BODY_LENGTH} characters")
        elif self.body is not None:
            problems.set(self, "body", check_unicode, self.body, "body")
        if self.case_id is not None and not is_case_id(self.case_id):
            problems.add("case_id", "must be a case id")
        problems.check_version(self.version)
        problems.raise_if_any()

    @classmethod
    def log(
        cls,
        *,
        channel: Channel | str,
        direction: Direction | str,
        occurred_at: datetime,
        customer_id: CustomerId | None = None,
        lead_id: LeadId | None = None,
        participants: Iterable[Participant] = (),
        subject: str | None = None,
        body: str | None = None,
        duration: timedelta | None = None,
        outcome: str | None = None,
        thread_id: str | None = None,
        external_id: str | None = None,
        case_id: CaseId | None = None,
    ) -> Interaction:
        """Record a communication with a customer and/or lead (``occurred_at`` must be aware).

        ``case_id`` puts it in a support case's thread.
        """
        problems = Problems()
        values: dict[str, Any] = {}
        problems.parse_into(
            values, "channel", enum_member, Channel, channel, "channel", "is not a known channel"
        )
        problems.parse_into(
            values,
            "direction",
            enum_member,
            Direction,
            direction,
            "direction",
            "is not inbound, outbound or internal",
        )
        people: list[Participant] = []
        for name, record_id in (("customer_id", customer_id), ("lead_id", lead_id)):
            if record_id is None:
                continue
            check = is_customer_id if name == "customer_id" else is_lead_id
            if not check(record_id):
                problems.add(name, f"must be a {name.removesuffix('_id')} id")
            else:
                people.append(Participant(record_id))
        try:
            extras = items_of(participants, "participants")
        except ValidationError as exc:
            problems.found.extend(exc.problems)
            extras = []
        for i, extra in enumerate(extras):
            if not isinstance(extra, Participant):
                problems.add(f"participants[{i}]", "must be a Participant")
            elif extra.record_id not in {p.record_id for p in people}:
                people.append(extra)
        problems.raise_if_any()
        now = utcnow()
        return cls(
            id=new_interaction_id(),
            channel=values["channel"],
            direction=values["direction"],
            occurred_at=occurred_at,
            participants=tuple(people),
            subject=subject,
            body=body,
            duration=duration,
            outcome=outcome,
            thread_id=thread_id,
            external_id=external_id,
            case_id=case_id,
            created_at=now,
            updated_at=now,
        )

    @property
    def record_ids(self) -> tuple[RecordId, ...]:
        """The ids of every customer and lead taking part."""
        return tuple(p.record_id for p in self.participants)

    @property
    def customer_ids(self) -> tuple[CustomerId, ...]:
        """The ids of the customers taking part."""
        return tuple(CustomerId(p.record_id) for p in self.participants if p.is_customer)

    @property
    def lead_ids(self) -> tuple[LeadId, ...]:
        """The ids of the leads taking part."""
        return tuple(LeadId(p.record_id) for p in self.participants if not p.is_customer)

    def repointed(self, old: RecordId, new: RecordId) -> Interaction:
        """Return a copy where participant ``old`` is ``new`` (used by merges and conversions)."""
        people: list[Participant] = []
        for p in self.participants:
            target = attrs.evolve(p, record_id=new) if p.record_id == old else p
            if all(q.record_id != target.record_id for q in people):
                people.append(target)
        return attrs.evolve(self, participants=tuple(people))

    def __repr__(self) -> str:
        return (
            f"Interaction(id={self.id!r}, channel={self.channel.value!r}, "
            f"direction={self.direction.value!r}, occurred_at={self.occurred_at.isoformat()!r}, "
            f"version={self.version})"
        )
