"""Labelled contact points: an email address or phone number and what it is used for.

Entities hold them as tuples, primary first; :func:`coerce_emails` and
:func:`coerce_phones` turn what callers pass (text, values or entries) into
them, dropping repeats by match key.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

import attrs

from crmcore._validation import Problems, enum_member, items_of
from crmcore.errors import ValidationError
from crmcore.values import ContactLabel, EmailAddress, PhoneNumber

__all__ = ["ContactEmail", "ContactPhone", "coerce_emails", "coerce_phones"]


class _Labelled:
    """What both kinds of entry share: a masked repr."""

    __slots__ = ()

    label: ContactLabel

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<masked>, label={self.label.value!r})"


def _value_of(kind: type) -> Callable[[Any, attrs.Attribute[Any], object], None]:
    # Entities only check that their entries are entries, so an entry must be
    # valid on its own: a value that was never parsed would break storage.
    def check(_: Any, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, kind):
            name = kind.__name__
            article = "an" if name[0] in "AEIOU" else "a"
            raise ValidationError(attribute.name, f"must be {article} {name} (use {name}.parse)")

    return check


def _label_of(value: object) -> ContactLabel:
    # A text label would break repr and storage: keep the member.
    return value if isinstance(value, ContactLabel) else _label(value, "label")


@attrs.frozen(repr=False)
class ContactEmail(_Labelled):
    """An email address with what it is used for."""

    address: EmailAddress = attrs.field(validator=_value_of(EmailAddress))
    label: ContactLabel = attrs.field(default=ContactLabel.OTHER, converter=_label_of)


@attrs.frozen(repr=False)
class ContactPhone(_Labelled):
    """A phone number with what it is used for."""

    number: PhoneNumber = attrs.field(validator=_value_of(PhoneNumber))
    label: ContactLabel = attrs.field(default=ContactLabel.OTHER, converter=_label_of)


def _label(value: object, field: str) -> ContactLabel:
    return enum_member(ContactLabel, value, field, "is not a contact label")


E = TypeVar("E", ContactEmail, ContactPhone)


def _entries(
    items: object,
    field: str,
    lone: tuple[type, ...],
    entry: Callable[[object], E],
    key: Callable[[E], Hashable],
) -> tuple[E, ...]:
    # One value on its own is a collection of one; problems are collected per
    # item, and an item repeating an earlier one (by ``key``) is dropped.
    listed = [items] if isinstance(items, lone) else items_of(items, field)
    result: dict[Hashable, E] = {}
    problems = Problems()
    for i, item in enumerate(listed):
        try:
            parsed = entry(item)
        except ValidationError as exc:
            problems.found.extend(exc.prefixed(f"{field}[{i}]").problems)
            continue
        result.setdefault(key(parsed), parsed)
    problems.raise_if_any()
    return tuple(result.values())


def coerce_emails(items: Iterable[object], field: str = "emails") -> tuple[ContactEmail, ...]:
    """Parse strings, addresses or entries into entries, dropping repeats by match key.

    The first entry is the primary address. One string, address or entry on
    its own counts as a collection of one (``emails="ada@example.com"``).
    """

    def entry(item: object) -> ContactEmail:
        if isinstance(item, ContactEmail):
            return ContactEmail(EmailAddress.parse(item.address), _label(item.label, ""))
        return ContactEmail(EmailAddress.parse(item, field=""))

    lone = (str, EmailAddress, ContactEmail)
    return _entries(items, field, lone, entry, lambda e: e.address.match_key)


def coerce_phones(
    items: Iterable[object], region: str | None, field: str = "phones"
) -> tuple[ContactPhone, ...]:
    """Parse strings, numbers or entries into entries, dropping repeats by E.164.

    ``region`` is the default region for numbers typed without a ``+`` prefix.
    The first entry is the primary number. One string, number or entry on its
    own counts as a collection of one (``phones="+46 70 123 45 67"``).
    """

    def entry(item: object) -> ContactPhone:
        if isinstance(item, ContactPhone):
            return ContactPhone(PhoneNumber.parse(item.number), _label(item.label, ""))
        return ContactPhone(PhoneNumber.parse(item, region, field=""))

    lone = (str, PhoneNumber, ContactPhone)
    return _entries(items, field, lone, entry, lambda p: (p.number.e164, p.number.extension))
