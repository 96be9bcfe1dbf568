"""Customers: the people and organisations a business has a relationship with."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import attrs

from crmcore._party import Party, check_party_fields, parse_party_fields, stamped
from crmcore._validation import Problems, check_date, enum_member, given, tuple_of, utcnow
from crmcore.consent import ConsentEvent, Restriction
from crmcore.contacts import ContactEmail, ContactPhone
from crmcore.errors import InvalidTransition, ValidationError
from crmcore.ids import CustomerId, is_customer_id, new_customer_id
from crmcore.values import (
    ContactLabel,
    CustomFields,
    EmailAddress,
    ExternalIds,
    JSONValue,
    PersonName,
    PhoneNumber,
    PostalAddress,
    check_unicode,
    clean_text,
    normalize_tags,
    optional_text,
)

__all__ = ["ContactEmail", "ContactPhone", "Customer", "CustomerKind", "LifecycleStage"]

MAX_NOTES_LENGTH = 100_000


class CustomerKind(enum.Enum):
    """Whether a customer is a person or an organisation."""

    PERSON = "person"
    ORGANIZATION = "organization"


class LifecycleStage(enum.Enum):
    """How far a customer relationship has come, in order."""

    SUBSCRIBER = "subscriber"
    LEAD = "lead"
    MARKETING_QUALIFIED = "marketing_qualified"
    SALES_QUALIFIED = "sales_qualified"
    OPPORTUNITY = "opportunity"
    CUSTOMER = "customer"
    EVANGELIST = "evangelist"
    OTHER = "other"

    @property
    def rank(self) -> int:
        """Position in the funnel; ``OTHER`` ranks lowest (it is outside the funnel)."""
        return -1 if self is LifecycleStage.OTHER else _STAGE_ORDER.index(self)


_STAGE_ORDER = [s for s in LifecycleStage if s is not LifecycleStage.OTHER]


def _customer_name(kind: CustomerKind, name: object, field: str = "name") -> PersonName | str:
    if kind is CustomerKind.PERSON:
        if isinstance(name, PersonName):
            return name
        if isinstance(name, str):
            return PersonName.parse(name, field=field)
        raise ValidationError(field, "a person's name must be a PersonName or text")
    if isinstance(name, PersonName):
        raise ValidationError(field, "an organisation's name must be text")
    return clean_text(name, field, max_length=300)


@attrs.frozen(repr=False)
class Customer(Party):
    """A person or an organisation the business has a relationship with.

    Build one with :meth:`create`; change one with the methods that return a new
    instance. The first email and the first phone are the primary ones.
    ``version``, ``created_at`` and ``updated_at`` of stored copies are the
    store's: version 0 means "never stored".
    """

    id: CustomerId
    kind: CustomerKind
    name: PersonName | str
    emails: tuple[ContactEmail, ...] = ()
    phones: tuple[ContactPhone, ...] = ()
    addresses: tuple[PostalAddress, ...] = ()
    organization_id: CustomerId | None = None
    stage: LifecycleStage = LifecycleStage.CUSTOMER
    stage_reason: str | None = None
    tags: frozenset[str] = frozenset()
    custom_fields: CustomFields = CustomFields.EMPTY
    owner: str | None = None
    identifiers: ExternalIds = ExternalIds.EMPTY
    consent_events: tuple[ConsentEvent, ...] = ()
    restriction: Restriction | None = None
    birth_date: date | None = None
    notes: str | None = None
    merged_into: CustomerId | None = None
    version: int = 0
    created_at: datetime = attrs.field(factory=utcnow)
    updated_at: datetime = attrs.field(factory=utcnow)

    def __attrs_post_init__(self) -> None:
        problems = Problems()

        if not is_customer_id(self.id):
            problems.add("id", "must be a customer id")
        if not isinstance(self.kind, CustomerKind):
            problems.add("kind", "must be a CustomerKind")
        else:
            problems.set(self, "name", _customer_name, self.kind, self.name)
        check_party_fields(self, problems)
        if type(self.addresses) is not tuple or not all(
            isinstance(a, PostalAddress) for a in self.addresses
        ):
            problems.set(self, "addresses", tuple_of, self.addresses, PostalAddress, "addresses")
        for field in ("organization_id", "merged_into"):
            value = getattr(self, field)
            if value is not None and not is_customer_id(value):
                problems.add(field, "must be a customer id")
        if self.organization_id is not None and self.organization_id == self.id:
            problems.add("organization_id", "a customer cannot belong to itself")
        if not isinstance(self.stage, LifecycleStage):
            problems.add("stage", "must be a LifecycleStage")
        if self.stage_reason is not None:
            problems.set(self, "stage_reason", optional_text, self.stage_reason, "stage_reason")
        if not isinstance(self.identifiers, ExternalIds):
            problems.add("identifiers", "must be ExternalIds")
        if self.owner is not None:
            problems.set(self, "owner", optional_text, self.owner, "owner", max_length=200)
        if self.birth_date is not None:
            problems.set(self, "birth_date", check_date, self.birth_date, "birth_date")
        if self.notes is not None and (
            not isinstance(self.notes, str) or len(self.notes) > MAX_NOTES_LENGTH
        ):
            problems.add("notes", f"must be text of at most {MAX_NOTES_LENGTH} characters")
        elif self.notes is not None:
            problems.set(self, "notes", check_unicode, self.notes, "notes")
        problems.utc(self, "created_at", "updated_at")
        problems.check_version(self.version)
        problems.raise_if_any()

    @classmethod
    def create(
        cls,
        *,
        name: PersonName | str,
        kind: CustomerKind | str = CustomerKind.PERSON,
        emails: Iterable[str | EmailAddress | ContactEmail] = (),
        phones: Iterable[str | PhoneNumber | ContactPhone] = (),
        region: str | None = None,
        addresses: Iterable[PostalAddress] = (),
        organization_id: CustomerId | None = None,
        stage: LifecycleStage | str = LifecycleStage.CUSTOMER,
        tags: Iterable[str] = (),
        custom_fields: Mapping[str, object] | None = None,
        owner: str | None = None,
        identifiers: Mapping[str, str] | None = None,
        birth_date: date | None = None,
        notes: str | None = None,
    ) -> Customer:
        """Build a new customer from raw strings or typed values.

        Phone numbers typed without a ``+`` prefix are read in ``region``.
        Every problem is reported at once in one ValidationError.
        """
        problems = Problems()
        values: dict[str, Any] = {}

        problems.parse_into(values, "kind", enum_member, CustomerKind, kind, "kind")
        problems.parse_into(values, "stage", enum_member, LifecycleStage, stage, "stage")
        if "kind" in values:
            problems.parse_into(values, "name", _customer_name, values["kind"], name)
        parse_party_fields(problems, values, emails, phones, region, tags, custom_fields)
        if given(addresses):
            problems.parse_into(values, "addresses", tuple, addresses)
        if given(identifiers):
            problems.parse_into(
                values, "identifiers", ExternalIds.parse, identifiers, field="identifiers"
            )
        problems.raise_if_any()
        return cls(
            id=new_customer_id(),
            organization_id=organization_id,
            owner=owner,
            birth_date=birth_date,
            notes=notes,
            **stamped(values),
        )

    # ---------------------------------------------------------------- reading

    @property
    def display_name(self) -> str:
        """The name as text: a person's full name or the organisation's name."""
        return self.name.full if isinstance(self.name, PersonName) else self.name

    # ---------------------------------------------------------------- changing

    def with_email(
        self,
        email: str | EmailAddress,
        *,
        label: ContactLabel = ContactLabel.OTHER,
        primary: bool = False,
    ) -> Customer:
        """Add an address (or relabel one already there); ``primary`` moves it first."""
        entry = ContactEmail(EmailAddress.parse(email), label)
        key = entry.address.match_key
        if primary:
            emails = (entry, *(e for e in self.emails if e.address.match_key != key))
        elif any(e.address.match_key == key for e in self.emails):
            emails = tuple(entry if e.address.match_key == key else e for e in self.emails)
        else:
            emails = (*self.emails, entry)
        return attrs.evolve(self, emails=emails)

    def without_email(self, email: str | EmailAddress) -> Customer:
        """Remove an address (matched by match key)."""
        key = EmailAddress.parse(email).match_key
        return attrs.evolve(
            self, emails=tuple(e for e in self.emails if e.address.match_key != key)
        )

    def with_phone(
        self,
        phone: str | PhoneNumber,
        *,
        region: str | None = None,
        label: ContactLabel = ContactLabel.OTHER,
        primary: bool = False,
    ) -> Customer:
        """Add a number (or relabel one already there); ``primary`` moves it first."""
        entry = ContactPhone(PhoneNumber.parse(phone, region), label)
        number = entry.number
        if primary:
            phones = (entry, *(p for p in self.phones if p.number != number))
        elif any(p.number == number for p in self.phones):
            phones = tuple(entry if p.number == number else p for p in self.phones)
        else:
            phones = (*self.phones, entry)
        return attrs.evolve(self, phones=phones)

    def without_phone(self, phone: str | PhoneNumber, *, region: str | None = None) -> Customer:
        """Remove a number (matched by E.164 and extension)."""
        number = PhoneNumber.parse(phone, region)
        return attrs.evolve(self, phones=tuple(p for p in self.phones if p.number != number))

    def with_address(self, address: PostalAddress) -> Customer:
        """Add a postal address."""
        if not isinstance(address, PostalAddress):
            raise ValidationError("addresses", "must be a PostalAddress")
        if address in self.addresses:
            return self
        return attrs.evolve(self, addresses=(*self.addresses, address))

    def renamed(self, name: PersonName | str) -> Customer:
        """Return the customer with a new name."""
        return attrs.evolve(self, name=_customer_name(self.kind, name))

    def remove_tag(self, tag: str) -> Customer:
        """Remove a tag if present."""
        return attrs.evolve(self, tags=self.tags - normalize_tags([tag], "tag"))

    def with_custom_field(self, key: str, value: JSONValue) -> Customer:
        """Set one custom field."""
        return self._with_entry("custom_fields", CustomFields, "key", key, value)

    def with_identifier(self, scheme: str, value: str) -> Customer:
        """Set the identifier under ``scheme`` (a customer number, a tax id...)."""
        return self._with_entry("identifiers", ExternalIds, "scheme", scheme, value)

    def _with_entry(
        self, field: str, kind: type[CustomFields | ExternalIds], name: str, key: str, value: object
    ) -> Customer:
        # An unhashable key (a list) would escape from the dict as a TypeError.
        if not isinstance(key, str):
            raise ValidationError(name, "must be text")
        try:
            kind.parse({key: value}, field="")
        except ValidationError as exc:
            # The caller passed the key and the value: name those arguments, not
            # the entry's position in the map (which hides the key, a datum).
            raise ValidationError(
                (name if not path else "value" + path[2:], message) for path, message in exc
            ) from None
        data = {**getattr(self, field), key: value}
        return attrs.evolve(self, **{field: kind.parse(data, field=field)})  # type: ignore[arg-type]

    def assigned_to(self, owner: str | None) -> Customer:
        """Return the customer with a new owner (a user id of the host app)."""
        return attrs.evolve(self, owner=owner)

    def in_organization(self, organization_id: CustomerId | None) -> Customer:
        """Attach a person to an organisation customer (or detach with ``None``)."""
        if self.kind is not CustomerKind.PERSON and organization_id is not None:
            raise ValidationError("organization_id", "only a person can belong to an organisation")
        return attrs.evolve(self, organization_id=organization_id)

    def advance_stage(self, stage: LifecycleStage | str, *, reason: str | None = None) -> Customer:
        """Move to another lifecycle stage; moving backwards needs a ``reason``."""
        stage = enum_member(LifecycleStage, stage, "stage")
        if stage.rank < self.stage.rank and optional_text(reason, "reason") is None:
            raise InvalidTransition(
                f"moving a customer back from {self.stage.value} to {stage.value} needs a reason"
            )
        return attrs.evolve(self, stage=stage, stage_reason=reason)

    def __repr__(self) -> str:
        return (
            f"Customer(id={self.id!r}, kind={self.kind.value!r}, stage={self.stage.value!r}, "
            f"version={self.version})"
        )

    __str__ = __repr__
