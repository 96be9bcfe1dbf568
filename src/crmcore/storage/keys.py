"""Index keys: every key format a store or the deduplication engine writes, in one place.

Blocking keys are the strings a store indexes so that ``find_by_keys`` finds candidates.

A store is given a *key function* (``key_function=`` of its constructor); on
every write it computes the record's keys with it and keeps them in an index.
Keys are opaque strings to the store. Two records sharing a key are
candidates for duplicate detection; the deduplication engine decides whether
they really are duplicates.

A key function must be pure: the same record always gives the same keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Final

from crmcore.customers import Customer
from crmcore.errors import ValidationError
from crmcore.leads import Lead
from crmcore.values import mailbox_key

__all__ = [
    "EMAIL_PREFIX",
    "IDENTIFIER_PREFIX",
    "MAILBOX_PREFIX",
    "NAME_PREFIX",
    "NAME_PREFIXES",
    "ORGANIZATION_PREFIX",
    "PHONE_PREFIX",
    "SOURCE_PREFIX",
    "KeyFunction",
    "default_keys",
    "email_key",
    "identifier_key",
    "key_function_name",
    "mailbox_index_key",
    "phone_key",
    "source_keys",
    "source_scheme",
]

EMAIL_PREFIX: Final = "email:"
"""Keys of email addresses: ``email:<match key>``."""
MAILBOX_PREFIX: Final = "mailbox:"
"""Keys of mailboxes: ``mailbox:<mailbox key>`` (:attr:`crmcore.EmailAddress.mailbox_key`).

Written only for an address whose mailbox key differs from its match key
(a ``+tag``, a dotted Gmail address), so that a lookup by the mailbox finds
``Ann.Lee+crm@googlemail.com`` from ``annlee@gmail.com``.
"""
PHONE_PREFIX: Final = "phone:"
"""Keys of phone numbers: ``phone:<E.164>``."""
IDENTIFIER_PREFIX: Final = "id:"
"""Keys of external identifiers: ``id:<scheme>:<value>``."""
NAME_PREFIX: Final = "name:"
"""Blocking keys of person names (the deduplication rule ``name``)."""
ORGANIZATION_PREFIX: Final = "organization:"
"""Blocking keys of organization names (the deduplication rule ``organization``)."""
NAME_PREFIXES: Final = (NAME_PREFIX, ORGANIZATION_PREFIX)
"""The least selective blocking keys: many records share a name."""
SOURCE_PREFIX: Final = "source:"
"""Identifier schemes of provenance: ``source:<file or source name>`` (the importer's row ids).

A source id says where a record came from, not who it is: two rows of one
file have different source ids and may still be one person, so matching
ignores these schemes.
"""


def email_key(match_key: str) -> str:
    """The index key of an email address, from its ``match_key``.

    Example:
        >>> email_key("ada@example.org")
        'email:ada@example.org'
    """
    return EMAIL_PREFIX + match_key


def mailbox_index_key(mailbox: str) -> str:
    """The index key of a mailbox, from its mailbox key.

    Example:
        >>> mailbox_index_key("annlee@gmail.com")
        'mailbox:annlee@gmail.com'
    """
    return MAILBOX_PREFIX + mailbox


def phone_key(e164: str) -> str:
    """The index key of a phone number, from its E.164 form.

    Example:
        >>> phone_key("+46701234567")
        'phone:+46701234567'
    """
    return PHONE_PREFIX + e164


def identifier_key(scheme: str, value: str) -> str:
    """The index key of an external identifier.

    Example:
        >>> identifier_key("crm", "42")
        'id:crm:42'
    """
    return f"{IDENTIFIER_PREFIX}{scheme}:{value}"


def source_scheme(name: str) -> str:
    """The identifier scheme under which the importer keeps the row ids of source ``name``.

    Characters an identifier scheme cannot hold become ``_``; the scheme is
    cut to 64 characters.

    Example:
        >>> source_scheme("contacts 2024.csv")
        'source:contacts_2024.csv'
    """
    slug = re.sub(r"[^A-Za-z0-9_.:-]+", "_", name).strip("_") or "file"
    return (SOURCE_PREFIX + slug)[:64]


def source_keys(record: Customer | Lead) -> Iterator[str]:
    """The index keys of a record's source ids: ``id:<scheme>:<value>`` for each ``source:`` one.

    A customer's source ids are identifiers; leads carry no identifiers, so the
    importer keeps a lead's source id in a custom field named after its
    scheme. :func:`default_keys` and :func:`crmcore.dedup.blocking_keys` yield
    these keys, so that an import finds a chunk's stored rows with one
    ``find_by_keys`` (for leads, instead of a scan). A store with a key
    function of its own should yield them too: leads are found only so.

    Example:
        >>> from crmcore import Lead
        >>> lead = Lead.create(name="Ada", custom_fields={"source:leads.csv": "r1"})
        >>> list(source_keys(lead))
        ['id:source:leads.csv:r1']
    """
    if isinstance(record, Customer):
        for scheme, value in record.identifiers.items():
            if scheme.startswith(SOURCE_PREFIX):
                yield identifier_key(scheme, value)
        return
    for name, value in record.custom_fields.items():
        if name.startswith(SOURCE_PREFIX) and isinstance(value, str):
            yield identifier_key(name, value)


KeyFunction = Callable[[Customer | Lead], Iterable[str]]
"""The type of a key function: a record in, its blocking keys out."""


def default_keys(record: Customer | Lead) -> Iterator[str]:
    """The default blocking keys: every email, phone and identifier of the record.

    Yields ``email:<match key>`` (and ``mailbox:<mailbox key>`` where it
    differs), ``phone:<E.164>`` and, for customers,
    ``id:<scheme>:<value>``; for leads, the keys of their source ids
    (:func:`source_keys`).
    """
    for email in record.emails:
        match_key = email.address.match_key
        yield EMAIL_PREFIX + match_key
        mailbox = mailbox_key(match_key)
        if mailbox != match_key:
            yield MAILBOX_PREFIX + mailbox
    for phone in record.phones:
        yield PHONE_PREFIX + phone.number.e164
    if isinstance(record, Customer):
        for scheme, value in record.identifiers.items():
            yield identifier_key(scheme, value)
    else:
        yield from source_keys(record)


# Version 2: leads' source ids; 3: mailbox keys. Stores that persist their key
# index rebuild it when this changes (see key_function_name).
setattr(default_keys, "keys_version", "3")  # noqa: B010


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
