"""What customers and leads share: contact points, their primaries, tags and custom fields.

:class:`Party` is the base of both entities (no fields of its own: attrs
collects those from each entity); :func:`check_party_fields` and
:func:`parse_party_fields` are the checks their constructor and their
``create`` method run on the shared fields, :func:`stamped` the timestamps of
a new record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Self

import attrs

from crmcore._validation import Problems, given, tuple_of, utcnow
from crmcore.contacts import ContactEmail, ContactPhone, coerce_emails, coerce_phones
from crmcore.values import CustomFields, EmailAddress, PhoneNumber, normalize_tags


class Party:
    """Contact points (primary first), tags and merge state, as customers and leads hold them."""

    __slots__ = ()

    emails: tuple[ContactEmail, ...]
    phones: tuple[ContactPhone, ...]
    tags: frozenset[str]
    custom_fields: CustomFields
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
