"""Leads: prospects not yet customers, with a small status state machine."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from crmcore._party import Party, check_party_fields, parse_party_fields, stamped
from crmcore._validation import Problems, enum_member, utcnow
from crmcore.consent import ConsentEvent, Restriction
from crmcore.contacts import ContactEmail, ContactPhone, coerce_emails, coerce_phones
from crmcore.errors import InvalidTransition, ValidationError
from crmcore.ids import CustomerId, LeadId, is_customer_id, is_valid_id, new_lead_id
from crmcore.values import (
    CustomFields,
    EmailAddress,
    Money,
    PersonName,
    PhoneNumber,
    optional_text,
)

__all__ = ["Lead", "LeadSource", "LeadStatus"]

MIN_SCORE = -(2**63)
MAX_SCORE = 2**63 - 1


class LeadStatus(enum.Enum):
    """Where a lead stands: ``new -> contacted -> qualified -> converted``.

    Any open status may go to ``disqualified`` (with a reason), and a
    disqualified lead may be recycled to ``new``.
    """

    NEW = "new"
    CONTACTED = "contacted"
    QUALIFIED = "qualified"
    CONVERTED = "converted"
    DISQUALIFIED = "disqualified"

    @property
    def is_open(self) -> bool:
        """Whether the lead is still being worked."""
        return self in _OPEN

    def can_become(self, target: LeadStatus) -> bool:
        """Whether the state machine allows moving from this status to ``target``."""
        return target in _TRANSITIONS[self]


_OPEN = frozenset({LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUALIFIED})
_TRANSITIONS: dict[LeadStatus, frozenset[LeadStatus]] = {
    LeadStatus.NEW: frozenset({LeadStatus.CONTACTED, LeadStatus.DISQUALIFIED}),
    LeadStatus.CONTACTED: frozenset({LeadStatus.QUALIFIED, LeadStatus.DISQUALIFIED}),
    LeadStatus.QUALIFIED: frozenset({LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED}),
    LeadStatus.CONVERTED: frozenset(),
    LeadStatus.DISQUALIFIED: frozenset({LeadStatus.NEW}),
}


class LeadSource(enum.Enum):
    """Where a lead came from."""

    WEB_FORM = "web_form"
    IMPORT = "import"
    REFERRAL = "referral"
    CAMPAIGN = "campaign"
    EVENT = "event"
    INBOUND_CALL = "inbound_call"
    OUTBOUND = "outbound"
    PARTNER = "partner"
    SOCIAL = "social"
    OTHER = "other"


@attrs.frozen(repr=False)
class Lead(Party):
    """A prospect, as captured: possibly only a name, a company or a contact point."""

    id: LeadId
    name: PersonName | None = None
    company: str | None = None
    emails: tuple[ContactEmail, ...] = ()
    phones: tuple[ContactPhone, ...] = ()
    source: LeadSource | None = None
    status: LeadStatus = LeadStatus.NEW
    status_reason: str | None = None
    score: int | None = None
    estimated_value: Money | None = None
    owner: str | None = None
    tags: frozenset[str] = frozenset()
    custom_fields: CustomFields = CustomFields.EMPTY
    consent_events: tuple[ConsentEvent, ...] = ()
    restriction: Restriction | None = None
    converted_customer_id: CustomerId | None = None
    merged_into: LeadId | None = None
    version: int = 0
    created_at: datetime = attrs.field(factory=utcnow)
    updated_at: datetime = attrs.field(factory=utcnow)

    def __attrs_post_init__(self) -> None:
        problems = Problems()

        if not is_valid_id(self.id, "led_"):
            problems.add("id", "must be a lead id")
        if self.name is not None and not isinstance(self.name, PersonName):
            problems.add("name", "must be a PersonName")
        problems.set(self, "company", optional_text, self.company, "company", max_length=300)
        check_party_fields(self, problems)
        if self.name is None and self.company is None and not self.emails and not self.phones:
            problems.add("name", "a lead needs a name, a company, an email or a phone")
        if self.source is not None and not isinstance(self.source, LeadSource):
            problems.add("source", "must be a LeadSource")
        if not isinstance(self.status, LeadStatus):
            problems.add("status", "must be a LeadStatus")
        problems.set(self, "status_reason", optional_text, self.status_reason, "status_reason")
        if self.score is not None and (
            not isinstance(self.score, int)
            or isinstance(self.score, bool)
            or not MIN_SCORE <= self.score <= MAX_SCORE
        ):
            # A 64-bit integer: what every database column holds (SQLite refused more,
            # so the same lead was valid in memory and not in a file).
            problems.add("score", "must be an integer within 64 bits")
        if self.estimated_value is not None and not isinstance(self.estimated_value, Money):
            problems.add("estimated_value", "must be Money")
        problems.set(self, "owner", optional_text, self.owner, "owner", max_length=200)
        if self.converted_customer_id is not None and not is_customer_id(
            self.converted_customer_id
        ):
            problems.add("converted_customer_id", "must be a customer id")
        if self.merged_into is not None and not is_valid_id(self.merged_into, "led_"):
            problems.add("merged_into", "must be a lead id")
        problems.utc(self, "created_at", "updated_at")
        problems.check_version(self.version)
        problems.raise_if_any()

    @classmethod
    def create(
        cls,
        *,
        name: PersonName | str | None,
        company: str | None = None,
        emails: Iterable[str | EmailAddress | ContactEmail] = (),
        phones: Iterable[str | PhoneNumber | ContactPhone] = (),
        region: str | None = None,
        source: LeadSource | str | None = None,
        score: int | None = None,
        estimated_value: Money | None = None,
        owner: str | None = None,
        tags: Iterable[str] = (),
        custom_fields: Mapping[str, object] | None = None,
    ) -> Lead:
        """Capture a new lead from raw strings or typed values (status ``new``)."""
        problems = Problems()
        values: dict[str, Any] = {}

        if name is not None and not (isinstance(name, str) and not name.strip()):
            problems.parse_into(values, "name", PersonName.parse, name)
        if source is not None:
            problems.parse_into(values, "source", enum_member, LeadSource, source, "source")
        parse_party_fields(problems, values, emails, phones, region, tags, custom_fields)
        problems.raise_if_any()
        return cls(
            id=new_lead_id(),
            company=company,
            score=score,
            estimated_value=estimated_value,
            owner=owner,
            **stamped(values),
        )

    def transition_to(
        self,
        status: LeadStatus | str,
        *,
        reason: str | None = None,
        customer_id: CustomerId | None = None,
    ) -> Lead:
        """Move to ``status`` or raise InvalidTransition.

        Disqualifying needs a ``reason``; ``customer_id`` records, on
        conversion, the customer the lead became (:func:`crmcore.convert_lead`
        does all of a conversion: this only changes the status).
        """
        status = enum_member(LeadStatus, status, "status")
        if not self.status.can_become(status):
            raise InvalidTransition(f"a lead cannot go from {self.status.value} to {status.value}")
        text = optional_text(reason, "reason")
        if status is LeadStatus.DISQUALIFIED and text is None:
            raise InvalidTransition("disqualifying a lead needs a reason")
        if customer_id is not None:
            if status is not LeadStatus.CONVERTED:
                raise ValidationError("customer_id", "is only for a conversion")
            if not is_customer_id(customer_id):
                raise ValidationError("customer_id", "must be a customer id")
        return attrs.evolve(
            self,
            status=status,
            status_reason=text,
            converted_customer_id=customer_id or self.converted_customer_id,
        )

    def with_email(self, email: str | EmailAddress) -> Lead:
        """Add an email address (kept once by match key)."""
        return attrs.evolve(self, emails=coerce_emails((*self.emails, email)))

    def with_phone(self, phone: str | PhoneNumber, *, region: str | None = None) -> Lead:
        """Add a phone number (kept once)."""
        entry = PhoneNumber.parse(phone, region)
        return attrs.evolve(self, phones=coerce_phones((*self.phones, entry), None))

    def scored(self, score: int) -> Lead:
        """Return the lead with a new score."""
        return attrs.evolve(self, score=score)

    def assigned_to(self, owner: str | None) -> Lead:
        """Return the lead with a new owner."""
        return attrs.evolve(self, owner=owner)

    def __repr__(self) -> str:
        return f"Lead(id={self.id!r}, status={self.status.value!r}, version={self.version})"

    __str__ = __repr__
