"""The suppression list: keyed digests of erased contact points, and the checks that read it.

When a person is erased, their email addresses and phone numbers must not
quietly come back with the next import or sign-up form (HubSpot keeps such a
blocklist). The list cannot hold the addresses themselves, that would keep
the very data erasure removed, and it cannot hold plain hashes either: a
SHA-256 of an email address is reversed with a dictionary of addresses in
seconds. So each contact point is kept as an HMAC-SHA256 under the store's own
secret (:meth:`~crmcore.storage.SupportsPrivacy.privacy_secret`, 32 random
bytes created once per store): without the secret, a digest says nothing,
and two stores give the same address different digests.

Decisions:

- What is digested is the contact point's *match key*, prefixed with its kind
  as :mod:`crmcore.storage.keys` writes index keys (``email:...``,
  ``phone:...``): for an email address the key with the provider rules of
  :func:`crmcore.dedup.normalize.email_match_key` (case folded, the ``+tag``
  dropped, dots ignored in Gmail addresses), so ``Ada+News@X.com`` is
  suppressed once ``ada@x.com`` is, the same identity :func:`find_subject`
  uses; for a phone number its E.164 form (an extension is the same line).
- A digest is 64 lowercase hexadecimal characters.
- Adding digests is not audited (they name no record); the writes that a
  suppression check refuses are not written, so there is nothing to audit.
- :func:`suppressed_fields` is what the checked writes, the importer and
  :func:`crmcore.dedup.check_duplicates` call: the field paths
  (``emails[0]``, ``phones[1]``) of a record's suppressed contact points,
  never the points themselves. A store that keeps no suppression list
  (no :class:`~crmcore.storage.SupportsPrivacy`) suppresses nothing.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from crmcore.customers import Customer
from crmcore.errors import ValidationError
from crmcore.leads import Lead
from crmcore.values import EmailAddress, PhoneNumber

if TYPE_CHECKING:
    from crmcore.storage.protocols import SupportsPrivacy

__all__ = [
    "SuppressionPolicy",
    "is_suppressed",
    "suppress",
    "suppressed_fields",
    "suppression_digest",
]


class SuppressionPolicy(enum.Enum):
    """What a write or an import does with a contact point on the suppression list."""

    BLOCK = "block"
    """Refuse the record (:class:`~crmcore.errors.Suppressed`, or a rejected row)."""
    ALERT = "alert"
    """Store it, and say which contact points were suppressed in the result."""


def _privacy_store(store: object) -> SupportsPrivacy:
    from crmcore.storage.protocols import SupportsPrivacy

    if not isinstance(store, SupportsPrivacy):
        raise ValidationError("store", "must keep a suppression list (SupportsPrivacy)")
    return store


def keeps_suppressions(store: object) -> bool:
    """Whether ``store`` keeps a suppression list (duck-typed: a write path asks it cheaply)."""
    return hasattr(store, "suppressions") and hasattr(store, "privacy_secret")


def email_identity(email: EmailAddress) -> str:
    """The key of the mailbox an address delivers to: what suppression and subject lookup compare.

    The match key with the provider rules (``+tag`` dropped, Gmail dots ignored).
    """
    from crmcore.dedup.normalize import email_match_key

    return email_match_key(email, provider_rules=True)


def _email(value: object, field: str) -> EmailAddress:
    return EmailAddress.parse(value, field=field)


def _phone(value: object, field: str, region: str | None) -> PhoneNumber:
    return PhoneNumber.parse(value, region, field=field)


def _digest(secret: bytes, key: str) -> str:
    return hmac.new(secret, key.encode("utf-8"), hashlib.sha256).hexdigest()


def _secret(store: SupportsPrivacy) -> bytes:
    secret = store.privacy_secret()
    # A store that answered an empty or short key would make every digest guessable.
    if not isinstance(secret, bytes) or len(secret) < 16:
        raise ValidationError("store", "answered no usable privacy secret")
    return secret


def _email_key(email: EmailAddress) -> str:
    # Imported here: the checked writes import this module, and must stay cheap to import.
    from crmcore.storage.keys import email_key

    return email_key(email_identity(email))


def _phone_key(phone: PhoneNumber) -> str:
    from crmcore.storage.keys import phone_key

    return phone_key(phone.e164)


def suppression_digest(
    store: SupportsPrivacy | Any,
    *,
    email: EmailAddress | str | None = None,
    phone: PhoneNumber | str | None = None,
    region: str | None = None,
) -> list[str]:
    """The keyed digests of a contact point as the suppression list keeps them.

    One digest for ``email``, one for ``phone`` (in that order), none for
    what is not given. ``region`` reads a phone number written without ``+``.

    Example:
        >>> from crmcore import InMemoryStore
        >>> store = InMemoryStore()
        >>> [len(d) for d in suppression_digest(store, email="Ada@Example.org")]
        [64]

    Raises:
        ValidationError: naming ``email`` or ``phone`` when it cannot be read,
            or ``store`` when it keeps no suppression list.
    """
    checked = _privacy_store(store)
    keys = []
    if email is not None:
        keys.append(_email_key(_email(email, "email")))
    if phone is not None:
        keys.append(_phone_key(_phone(phone, "phone", region)))
    if not keys:
        return []
    secret = _secret(checked)
    return [_digest(secret, key) for key in keys]


def _items(values: object, field: str) -> list[object]:
    # A single address passed where a collection is expected would otherwise be
    # read character by character.
    if isinstance(values, str | bytes | EmailAddress | PhoneNumber) or not isinstance(
        values, Iterable
    ):
        raise ValidationError(field, "must be a collection of contact points")
    return list(values)


def suppress(
    store: SupportsPrivacy | Any,
    *,
    emails: Iterable[EmailAddress | str] = (),
    phones: Iterable[PhoneNumber | str] = (),
    region: str | None = None,
) -> int:
    """Put contact points on the suppression list; return how many digests were new.

    Every point is read first: one that cannot be read (naming
    ``emails[i]`` or ``phones[i]``) adds nothing. Call it inside the
    transaction that erases the person, so that both happen or neither.

    Raises:
        ValidationError: naming the contact point that cannot be read, or
            ``store`` when it keeps no suppression list.
    """
    checked = _privacy_store(store)
    keys = [_email_key(_email(e, f"emails[{i}]")) for i, e in enumerate(_items(emails, "emails"))]
    keys += [
        _phone_key(_phone(p, f"phones[{i}]", region))
        for i, p in enumerate(_items(phones, "phones"))
    ]
    if not keys:
        return 0
    secret = _secret(checked)
    return checked.suppressions.add(sorted({_digest(secret, key) for key in keys}))


def is_suppressed(
    store: SupportsPrivacy | Any,
    *,
    email: EmailAddress | str | None = None,
    phone: PhoneNumber | str | None = None,
    region: str | None = None,
) -> bool:
    """Whether ``email`` or ``phone`` is on the suppression list (either one is enough).

    Raises:
        ValidationError: neither is given (naming ``email``), one cannot be
            read, or ``store`` keeps no suppression list.
    """
    if email is None and phone is None:
        raise ValidationError("email", "give an email address or a phone number to look up")
    checked = _privacy_store(store)
    digests = suppression_digest(checked, email=email, phone=phone, region=region)
    return any(checked.suppressions.contains(digest) for digest in digests)


def suppressed_fields(store: object, record: Customer | Lead | Any) -> tuple[str, ...]:
    """The paths (``emails[0]``, ``phones[1]``) of the record's suppressed contact points.

    Empty for a store that keeps no suppression list, and for a record
    without contact points. Accepts a customer, a lead, or a
    :class:`~crmcore.dedup.records.MatchRecord` (whose ``emails`` and
    ``phones`` are the bare values).
    """
    # One indexed lookup a contact point (no count first: counting a long list
    # costs more than the lookups it would save).
    if not keeps_suppressions(store):
        return ()
    points: list[tuple[str, str]] = []
    for i, item in enumerate(getattr(record, "emails", ())):
        address = item.address if not isinstance(item, EmailAddress) else item
        points.append((f"emails[{i}]", _email_key(address)))
    for i, item in enumerate(getattr(record, "phones", ())):
        number = item.number if not isinstance(item, PhoneNumber) else item
        points.append((f"phones[{i}]", _phone_key(number)))
    if not points:
        return ()
    checked: Any = store
    secret = _secret(checked)
    return tuple(
        path for path, key in points if checked.suppressions.contains(_digest(secret, key))
    )


def any_suppressed(store: object) -> bool:
    """Whether the store's suppression list holds anything (saves digesting on a clean store)."""
    if not keeps_suppressions(store):
        return False
    checked: Any = store
    return bool(checked.suppressions.count())


def refuse_suppressed(store: object, record: object, at: str = "") -> None:
    """Raise :class:`~crmcore.errors.Suppressed` if the record holds a suppressed contact point.

    For the paths that bring stored copies back (``restore``,
    ``import_subject``) and the checked writes that add contact points to a
    record (an update, a conversion): an erased person must not come back
    through them either. ``at`` prefixes the field paths (``records[3].``).
    """
    from crmcore.errors import Suppressed

    fields = suppressed_fields(store, record)
    if fields:
        raise Suppressed(tuple(f"{at}{field}" for field in fields))


def _points(record: object) -> set[str]:
    emails = {e.address.match_key for e in getattr(record, "emails", ())}
    return emails | {p.number.e164 for p in getattr(record, "phones", ())}


def refuse_added(store: object, before: object, after: object) -> None:
    """Like :func:`refuse_suppressed`, for the contact points ``after`` adds to ``before``.

    A point the record already held is not refused: a family mailbox shared
    with an erased person stays usable on the records that had it.
    """
    from crmcore.errors import Suppressed

    fields = suppressed_fields(store, after)
    if not fields:
        return
    held = _points(before)
    emails: list[str] = [e.address.match_key for e in getattr(after, "emails", ())]
    phones: list[str] = [p.number.e164 for p in getattr(after, "phones", ())]

    def point(path: str) -> str:
        kind, _, rest = path.partition("[")
        values = emails if kind == "emails" else phones
        return values[int(rest.rstrip("]"))]

    added = tuple(f for f in fields if point(f) not in held)
    if added:
        raise Suppressed(added)
