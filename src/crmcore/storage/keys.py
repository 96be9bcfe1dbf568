"""Blocking keys: the strings a store indexes so that ``find_by_keys`` finds candidates.

A store is given a *key function* (``key_function=`` of its constructor); on
every write it computes the record's keys with it and keeps them in an index.
Keys are opaque strings to the store. Two records sharing a key are
candidates for duplicate detection; the deduplication engine decides whether
they really are duplicates.

A key function must be pure: the same record always gives the same keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from crmcore.customers import Customer
from crmcore.errors import ValidationError
from crmcore.leads import Lead

__all__ = ["KeyFunction", "default_keys", "key_function_name"]

KeyFunction = Callable[[Customer | Lead], Iterable[str]]
"""The type of a key function: a record in, its blocking keys out."""


def default_keys(record: Customer | Lead) -> Iterator[str]:
    """The default blocking keys: every email, phone and identifier of the record.

    Yields ``email:<match key>``, ``phone:<E.164>`` and, for customers,
    ``id:<scheme>:<value>``.
    """
    for email in record.emails:
        yield "email:" + email.address.match_key
    for phone in record.phones:
        yield "phone:" + phone.number.e164
    if isinstance(record, Customer):
        for scheme, value in record.identifiers.items():
            yield f"id:{scheme}:{value}"


def check_key_function(function: object) -> KeyFunction:
    """A store's ``key_function`` argument: a callable, or ``None`` for :func:`default_keys`.

    Checked when the store is built, so a mistake does not surface as a
    ``TypeError`` on the first write.
    """
    if function is None:
        return default_keys
    if not callable(function):
        raise ValidationError("key_function", "must be a function of a record")
    return function


def key_function_name(function: KeyFunction) -> str:
    """A stable name for a key function, so persistent stores notice when it changes.

    A function may carry a ``keys_version`` attribute; bump it whenever its
    output changes for the same record, and persistent stores rebuild their
    key index when next opened.
    """
    module = getattr(function, "__module__", None) or "?"
    name = getattr(function, "__qualname__", None) or type(function).__qualname__
    version = getattr(function, "keys_version", "")
    return f"{module}.{name}:{version}"
