"""Building match records tersely for the dedup tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from crmcore import EmailAddress, PersonName, PhoneNumber, PostalAddress
from crmcore.dedup import MatchRecord, RecordType


def person(
    record_id: str,
    given: str | None,
    family: str | None,
    *,
    emails: Sequence[str] = (),
    phones: Sequence[str] = (),
    city: str | None = None,
    street: str | None = None,
    postcode: str | None = None,
    company: str | None = None,
    born: date | None = None,
    ids: Mapping[str, str] | None = None,
) -> MatchRecord:
    """A person's match record; phones are parsed as Swedish unless they start with +."""
    address: tuple[PostalAddress, ...] = ()
    if city or street or postcode:
        lines = (street,) if street else ()
        address = (PostalAddress(lines=lines, locality=city, postal_code=postcode),)
    return MatchRecord(
        id=record_id,
        name=PersonName(given=given, family=family) if given or family else None,
        organization=company,
        emails=tuple(EmailAddress.parse(e) for e in emails),
        phones=tuple(PhoneNumber.parse(p, "SE") for p in phones),
        addresses=address,
        birth_date=born,
        identifiers=dict(ids or {}),
    )


def organization(
    record_id: str, name: str, *, emails: Sequence[str] = (), phones: Sequence[str] = ()
) -> MatchRecord:
    """An organisation's match record."""
    return MatchRecord(
        id=record_id,
        type=RecordType.ORGANIZATION,
        organization=name,
        emails=tuple(EmailAddress.parse(e) for e in emails),
        phones=tuple(PhoneNumber.parse(p, "SE") for p in phones),
    )
