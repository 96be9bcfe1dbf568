"""The view of a customer or lead that matching reads."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date

import attrs

from crmcore.customers import Customer, CustomerKind
from crmcore.leads import Lead
from crmcore.values import EmailAddress, PersonName, PhoneNumber, PostalAddress

__all__ = ["MatchRecord", "RecordType"]


class RecordType(enum.Enum):
    """What a match record stands for."""

    PERSON = "person"
    ORGANIZATION = "organization"
    LEAD = "lead"


@attrs.frozen(repr=False)
class MatchRecord:
    """A record reduced to the fields matching reads, already parsed.

    Build one from a :class:`~crmcore.Customer` or :class:`~crmcore.Lead` with
    :meth:`from_record`, or directly (the CSV importer does, so that it never
    builds full entities for rows it only compares). Values are as entered:
    normalisation for matching happens in the rules, never here.
    """

    id: str
    type: RecordType = RecordType.PERSON
    name: PersonName | None = None
    organization: str | None = None
    emails: tuple[EmailAddress, ...] = ()
    phones: tuple[PhoneNumber, ...] = ()
    addresses: tuple[PostalAddress, ...] = ()
    birth_date: date | None = None
    identifiers: Mapping[str, str] = attrs.field(factory=dict)

    @classmethod
    def from_record(cls, record: Customer | Lead | MatchRecord) -> MatchRecord:
        """The match view of a customer or lead (a match record is returned as is)."""
        if isinstance(record, MatchRecord):
            return record
        if isinstance(record, Lead):
            return cls(
                id=record.id,
                type=RecordType.LEAD,
                name=record.name,
                organization=record.company,
                emails=tuple(e.address for e in record.emails),
                phones=tuple(p.number for p in record.phones),
            )
        if record.kind is CustomerKind.ORGANIZATION:
            return cls(
                id=record.id,
                type=RecordType.ORGANIZATION,
                organization=record.display_name,
                emails=tuple(e.address for e in record.emails),
                phones=tuple(p.number for p in record.phones),
                addresses=record.addresses,
                identifiers=dict(record.identifiers),
            )
        assert isinstance(record.name, PersonName)
        return cls(
            id=record.id,
            type=RecordType.PERSON,
            name=record.name,
            emails=tuple(e.address for e in record.emails),
            phones=tuple(p.number for p in record.phones),
            addresses=record.addresses,
            birth_date=record.birth_date,
            identifiers=dict(record.identifiers),
        )

    def __repr__(self) -> str:
        return f"MatchRecord(id={self.id!r}, type={self.type.value!r})"
