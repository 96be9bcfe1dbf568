"""The view of a customer or lead that matching reads."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date

import attrs

from crmcore.customers import Customer
from crmcore.errors import ValidationError
from crmcore.leads import Lead
from crmcore.storage.keys import SOURCE_PREFIX
from crmcore.values import EmailAddress, PersonName, PhoneNumber, PostalAddress

__all__ = ["MatchRecord", "RecordType"]


class RecordType(enum.Enum):
    """What a match record stands for."""

    PERSON = "person"
    ORGANIZATION = "organization"
    LEAD = "lead"


_CONTACTS = (("emails", EmailAddress), ("phones", PhoneNumber), ("addresses", PostalAddress))


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

    def __attrs_post_init__(self) -> None:
        # Built by hand, a record of the wrong shape (name="Ann Lee") would
        # otherwise fail deep inside a run as AttributeError or TypeError.
        if not isinstance(self.id, str):
            raise ValidationError("id", "must be a string")
        if not isinstance(self.type, RecordType):
            raise ValidationError("type", "must be a RecordType")
        if self.name is not None and not isinstance(self.name, PersonName):
            raise ValidationError("name", "must be a PersonName or None")
        if self.organization is not None and not isinstance(self.organization, str):
            raise ValidationError("organization", "must be a string or None")
        # Plain loops, not all(...): the importer builds one record per row.
        for field, kind in _CONTACTS:
            values = getattr(self, field)
            if not isinstance(values, tuple | list):
                raise ValidationError(field, f"must be a tuple of {kind.__name__}")
            for value in values:
                if not isinstance(value, kind):
                    raise ValidationError(field, f"must be a tuple of {kind.__name__}")
        if self.birth_date is not None and not isinstance(self.birth_date, date):
            raise ValidationError("birth_date", "must be a date or None")
        if not isinstance(self.identifiers, Mapping):
            raise ValidationError("identifiers", "must map schemes to string values")
        for key, value in self.identifiers.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ValidationError("identifiers", "must map schemes to string values")

    @classmethod
    def from_record(cls, record: Customer | Lead | MatchRecord) -> MatchRecord:
        """The match view of a customer or lead (a match record is returned as is)."""
        if isinstance(record, MatchRecord):
            return record
        emails = tuple(e.address for e in record.emails)
        phones = tuple(p.number for p in record.phones)
        if isinstance(record, Lead):
            return cls(
                id=record.id,
                type=RecordType.LEAD,
                name=record.name,
                organization=record.company,
                emails=emails,
                phones=phones,
            )
        # A person is named by a PersonName, an organisation by text.
        person = record.name if isinstance(record.name, PersonName) else None
        return cls(
            id=record.id,
            type=RecordType.ORGANIZATION if person is None else RecordType.PERSON,
            name=person,
            organization=record.display_name if person is None else None,
            emails=emails,
            phones=phones,
            addresses=record.addresses,
            birth_date=None if person is None else record.birth_date,
            # Provenance (the importer's source ids) is no evidence of identity.
            identifiers={
                k: v for k, v in record.identifiers.items() if not k.startswith(SOURCE_PREFIX)
            },
        )

    def __repr__(self) -> str:
        return f"MatchRecord(id={self.id!r}, type={self.type.value!r})"
