"""Labelled contact points: an email address or phone number and what it is used for.

Entities hold them as tuples, primary first; :func:`coerce_emails` and
:func:`coerce_phones` turn what callers pass (text, values or entries) into
them, dropping repeats by match key.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from crmcore._validation import Problems, enum_member, items_of
from crmcore.errors import ValidationError
from crmcore.values import ContactLabel, EmailAddress, PhoneNumber

__all__ = ["ContactEmail", "ContactPhone", "coerce_emails", "coerce_phones"]


@attrs.frozen(repr=False)
class ContactEmail:
    """An email address with what it is used for."""

    address: EmailAddress
    label: ContactLabel = ContactLabel.OTHER

    def __attrs_post_init__(self) -> None:
        # Entities only check that their entries are ContactEmails, so an entry
        # must be valid on its own (a text label would break repr and storage).
        if not isinstance(self.address, EmailAddress):
            raise ValidationError("address", "must be an EmailAddress (use EmailAddress.parse)")
        if not isinstance(self.label, ContactLabel):
            object.__setattr__(self, "label", _label(self.label, "label"))

    def __repr__(self) -> str:
        return f"ContactEmail(<masked>, label={self.label.value!r})"


@attrs.frozen(repr=False)
class ContactPhone:
    """A phone number with what it is used for."""

    number: PhoneNumber
    label: ContactLabel = ContactLabel.OTHER

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.number, PhoneNumber):
            raise ValidationError("number", "must be a PhoneNumber (use PhoneNumber.parse)")
        if not isinstance(self.label, ContactLabel):
            object.__setattr__(self, "label", _label(self.label, "label"))

    def __repr__(self) -> str:
        return f"ContactPhone(<masked>, label={self.label.value!r})"


def _label(value: object, field: str) -> ContactLabel:
    return enum_member(ContactLabel, value, field, "is not a contact label")


def coerce_emails(items: Iterable[object], field: str = "emails") -> tuple[ContactEmail, ...]:
    """Parse strings, addresses or entries into entries, dropping repeats by match key.

    The first entry is the primary address. One string, address or entry on
    its own counts as a collection of one (``emails="ada@example.com"``).
    """
    items = (
        [items] if isinstance(items, str | EmailAddress | ContactEmail) else items_of(items, field)
    )
    result: list[ContactEmail] = []
    seen: set[str] = set()
    problems = Problems()
    for i, item in enumerate(items):
        try:
            if isinstance(item, ContactEmail):
                entry = ContactEmail(EmailAddress.parse(item.address), _label(item.label, ""))
            else:
                entry = ContactEmail(EmailAddress.parse(item, field=""))
        except ValidationError as exc:
            problems.found.extend(exc.prefixed(f"{field}[{i}]").problems)
            continue
        if entry.address.match_key not in seen:
            seen.add(entry.address.match_key)
            result.append(entry)
    problems.raise_if_any()
    return tuple(result)


def coerce_phones(
    items: Iterable[object], region: str | None, field: str = "phones"
) -> tuple[ContactPhone, ...]:
    """Parse strings, numbers or entries into entries, dropping repeats by E.164.

    ``region`` is the default region for numbers typed without a ``+`` prefix.
    The first entry is the primary number. One string, number or entry on its
    own counts as a collection of one (``phones="+46 70 123 45 67"``).
    """
    items = (
        [items] if isinstance(items, str | PhoneNumber | ContactPhone) else items_of(items, field)
    )
    result: list[ContactPhone] = []
    seen: set[tuple[str, str | None]] = set()
    problems = Problems()
    for i, item in enumerate(items):
        try:
            if isinstance(item, ContactPhone):
                entry = ContactPhone(PhoneNumber.parse(item.number), _label(item.label, ""))
            else:
                entry = ContactPhone(PhoneNumber.parse(item, region, field=""))
        except ValidationError as exc:
            problems.found.extend(exc.prefixed(f"{field}[{i}]").problems)
            continue
        key = (entry.number.e164, entry.number.extension)
        if key not in seen:
            seen.add(key)
            result.append(entry)
    problems.raise_if_any()
    return tuple(result)
