"""What customers and leads share: contact points, tags, custom fields, consent, restriction.

:class:`Party` is the base of both entities (no fields of its own: attrs
collects those from each entity); :func:`check_party_fields` and
:func:`parse_party_fields` are the checks their constructor and their
``create`` method run on the shared fields, :func:`stamped` the timestamps of
a new record.

Consent is a ledger (``consent_events``, see :mod:`crmcore.consent`): a
customer and a lead record it alike, and :attr:`Party.consents` is the state
derived from it. ``restriction`` marks a record whose processing is
restricted (GDPR Art. 18).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Self

import attrs

from crmcore._validation import Problems, ensure_utc, enum_member, given, tuple_of, utcnow
from crmcore.consent import (
    Consent,
    ConsentEvent,
    ConsentEvidence,
    ConsentStatus,
    LegalBasis,
    Restriction,
    current_consents,
    normalize_contact_point,
    normalize_purpose,
)
from crmcore.contacts import ContactEmail, ContactPhone, coerce_emails, coerce_phones
from crmcore.interactions import Channel
from crmcore.values import CustomFields, EmailAddress, PhoneNumber, normalize_tags


class Party:
    """Contact points (primary first), tags and merge state, as customers and leads hold them."""

    __slots__ = ()

    emails: tuple[ContactEmail, ...]
    phones: tuple[ContactPhone, ...]
    tags: frozenset[str]
    custom_fields: CustomFields
    consent_events: tuple[ConsentEvent, ...]
    restriction: Restriction | None
    merged_into: str | None

    @property
    def primary_email(self) -> EmailAddress | None:
        """The first email address, if any."""
        return self.emails[0].address if self.emails else None

    @property
    def primary_phone(self) -> PhoneNumber | None:
        """The first phone number, if any."""
        return self.phones[0].number if self.phones else None

    @property
    def is_merged(self) -> bool:
        """Whether this record was merged into another of its kind (a tombstone)."""
        return self.merged_into is not None

    def add_tag(self, tag: str) -> Self:
        """Add a tag (tags are case-insensitive)."""
        return attrs.evolve(self, tags=self.tags | normalize_tags([tag], "tag"))  # type: ignore[misc]

    # ---------------------------------------------------------------- consent

    @property
    def consents(self) -> tuple[Consent, ...]:
        """The current state of consent per contact point, channel and purpose (now).

        Derived from :attr:`consent_events` by :func:`crmcore.consent.current_consents`.
        """
        return current_consents(self.consent_events)

    def consent_for(
        self,
        channel: Channel | str,
        purpose: str,
        *,
        contact_point: str | EmailAddress | PhoneNumber | None = None,
        at: datetime | None = None,
    ) -> Consent | None:
        """The state of consent for ``channel`` and ``purpose`` at ``at`` (default now), if any.

        ``purpose`` is compared as :class:`Consent` stores it (trimmed,
        whitespace- and case-folded), so ``" Newsletter "`` finds
        ``newsletter``; ``contact_point`` selects the state kept for one email
        address or phone number (``None``: the person-wide state). This reads
        one key; :func:`crmcore.privacy.can_contact` combines them.
        """
        wanted = enum_member(Channel, channel, "channel", "is not a known channel")
        key = (normalize_contact_point(contact_point), wanted, normalize_purpose(purpose))
        moment = None if at is None else ensure_utc(at, "at")
        return next(
            (c for c in current_consents(self.consent_events, at=moment) if c.key == key), None
        )

    def with_consent(
        self,
        channel: Channel | str,
        purpose: str,
        status: ConsentStatus | str,
        *,
        at: datetime | None = None,
        source: str | None = None,
        legal_basis: LegalBasis | str = LegalBasis.CONSENT,
        contact_point: str | EmailAddress | PhoneNumber | None = None,
        evidence: ConsentEvidence | None = None,
        expires_at: datetime | None = None,
    ) -> Self:
        """Record a grant or a withdrawal: append one event to the consent ledger.

        ``at`` is when it takes effect (default now); an event that takes
        effect before the latest one of its key is kept in the history but
        does not change the current state. It is recorded now.

        Args:
            channel: the channel (a :class:`~crmcore.Channel` or its value).
            purpose: what the contact is for (``marketing``, ``newsletter``...).
            status: granted or withdrawn.
            at: when the event takes effect (UTC-aware; default now).
            source: where it was captured (a form, a call), free text.
            legal_basis: the GDPR Art. 6 basis.
            contact_point: the email address or phone number it concerns;
                ``None`` for the person as a whole.
            evidence: the form, IP address or double opt-in that proves it.
            expires_at: when a grant lapses.
        """
        now = utcnow()
        event = ConsentEvent(
            channel=enum_member(Channel, channel, "channel"),
            purpose=purpose,
            status=enum_member(ConsentStatus, status, "status"),
            effective_at=now if at is None else ensure_utc(at, "at"),
            recorded_at=now,
            contact_point=normalize_contact_point(contact_point),
            source=source,
            evidence=evidence,
            legal_basis=enum_member(LegalBasis, legal_basis, "legal_basis"),
            expires_at=None if expires_at is None else ensure_utc(expires_at, "expires_at"),
        )
        return attrs.evolve(self, consent_events=(*self.consent_events, event))  # type: ignore[misc]

    # ---------------------------------------------------------------- restriction

    @property
    def is_restricted(self) -> bool:
        """Whether processing of this record is restricted (GDPR Art. 18)."""
        return self.restriction is not None

    def restricted(self, reason: str, *, at: datetime | None = None) -> Self:
        """Return the record restricted since ``at`` (default now), for ``reason``.

        Restricting a restricted record again replaces its reason and date.
        """
        since = utcnow() if at is None else ensure_utc(at, "at")
        return attrs.evolve(self, restriction=Restriction(reason=reason, since=since))  # type: ignore[misc]

    def unrestricted(self) -> Self:
        """Return the record with its restriction lifted."""
        if self.restriction is None:
            return self
        return attrs.evolve(self, restriction=None)  # type: ignore[misc]


def check_party_fields(record: Party, problems: Problems) -> None:
    """Check (and normalise in place) a frozen record's emails, phones, tags and custom fields."""
    # The common case (tuples of the right type) costs no call: this runs for
    # every record built, decoded or merged.
    if type(record.emails) is not tuple or not all(
        isinstance(e, ContactEmail) for e in record.emails
    ):
        problems.set(record, "emails", coerce_emails, record.emails)
    if type(record.phones) is not tuple or not all(
        isinstance(p, ContactPhone) for p in record.phones
    ):
        problems.set(record, "phones", tuple_of, record.phones, ContactPhone, "phones")
    if type(record.tags) is not frozenset or record.tags:
        # Even a frozenset: attrs.evolve(x, tags=frozenset({"VIP"})) must store
        # "vip", or where("tags").contains("VIP") would not find it.
        problems.set(record, "tags", normalize_tags, record.tags)
    if not isinstance(record.custom_fields, CustomFields):
        problems.add("custom_fields", "must be CustomFields")
    # The type before the truth: an object's bool() can warn or raise (NotImplemented).
    if type(record.consent_events) is not tuple or not all(
        isinstance(e, ConsentEvent) for e in record.consent_events
    ):
        events = record.consent_events
        problems.set(record, "consent_events", tuple_of, events, ConsentEvent, "consent_events")
    if record.restriction is not None and not isinstance(record.restriction, Restriction):
        problems.add("restriction", "must be a Restriction")


def parse_party_fields(
    problems: Problems,
    values: dict[str, Any],
    emails: Iterable[object],
    phones: Iterable[object],
    region: str | None,
    tags: Iterable[object],
    custom_fields: Mapping[str, object] | None,
) -> None:
    """Parse raw contact points, tags and custom fields of a ``create`` call into ``values``.

    Emails, phones and tags are collections: one string (``tags="vip"``) is
    refused for each alike, rather than read as one item or as characters.
    """
    if given(emails):
        problems.parse_into(values, "emails", coerce_emails, emails)
    if given(phones):
        problems.parse_into(values, "phones", coerce_phones, phones, region)
    if given(tags):
        problems.parse_into(values, "tags", normalize_tags, tags)
    if given(custom_fields):
        problems.parse_into(
            values, "custom_fields", CustomFields.parse, custom_fields, field="custom_fields"
        )


def stamped(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` of a new record with ``created_at`` and ``updated_at`` set to now, alike."""
    now = utcnow()
    return {**values, "created_at": now, "updated_at": now}
