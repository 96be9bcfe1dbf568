"""Consent questions an embedding app asks: may we contact this person, and the history.

:func:`can_contact` answers for one channel and purpose (and optionally one
email address or phone number) from a record's consent ledger;
:func:`consent_history` lists the ledger's events in the order they take effect.

Decisions: a restricted record (GDPR Art. 18) may be contacted for the
``service`` purpose only (a restriction does not stop telling a person about
their own order or request), and then only with consent granted like any
other purpose. Without any event for the channel and purpose the answer is
no: crmcore does not presume consent.
"""

from __future__ import annotations

from datetime import datetime

from crmcore._validation import ensure_utc, enum_member, utcnow
from crmcore.consent import (
    ConsentEvent,
    current_consents,
    event_order,
    normalize_contact_point,
    normalize_purpose,
)
from crmcore.customers import Customer
from crmcore.errors import ValidationError
from crmcore.interactions import Channel
from crmcore.leads import Lead
from crmcore.values import EmailAddress, PhoneNumber

__all__ = ["SERVICE_PURPOSE", "can_contact", "consent_history"]

SERVICE_PURPOSE = "service"
"""The purpose a restricted record may still be contacted for (with consent)."""


def _record(record: object) -> Customer | Lead:
    if not isinstance(record, Customer | Lead):
        raise ValidationError("record", "must be a Customer or a Lead")
    return record


def can_contact(
    record: Customer | Lead,
    channel: Channel | str,
    purpose: str,
    *,
    at: datetime | None = None,
    contact_point: str | EmailAddress | PhoneNumber | None = None,
) -> bool:
    """Whether ``record`` may be contacted on ``channel`` for ``purpose`` at ``at`` (default now).

    The answer, in order:

    - ``False`` when the record is restricted, unless ``purpose`` is ``service``;
    - ``False`` when the person-wide state (contact point ``None``) is not
      granted: a withdrawal for the person beats everything;
    - with ``contact_point``, that point's own state when it has one (a grant
      or withdrawal for one address beats the person-wide grant for it);
    - else the person-wide state: ``True`` only if granted. No event at all is ``False``.

    Args:
        record: a customer or a lead.
        channel: the channel (a :class:`~crmcore.Channel` or its value).
        purpose: what the contact is for (``marketing``, ``newsletter``...).
        at: the moment asked about (UTC-aware; default now).
        contact_point: the email address or phone number to be used.

    Raises:
        ValidationError: naming the bad argument.
    """
    party = _record(record)
    wanted = enum_member(Channel, channel, "channel", "is not a known channel")
    key_purpose = normalize_purpose(purpose)
    point = normalize_contact_point(contact_point)
    moment = utcnow() if at is None else ensure_utc(at, "at")
    if party.is_restricted and key_purpose != SERVICE_PURPOSE:
        return False
    states = {c.key: c for c in current_consents(party.consent_events, at=moment)}
    person = states.get((None, wanted, key_purpose))
    if person is not None and not person.granted:
        return False
    if point is not None:
        own = states.get((point, wanted, key_purpose))
        if own is not None:
            return own.granted
    return person is not None and person.granted


def consent_history(
    record: Customer | Lead,
    *,
    channel: Channel | str | None = None,
    purpose: str | None = None,
) -> tuple[ConsentEvent, ...]:
    """The record's consent events in the order they take effect (one channel, purpose if given).

    Ties in ``effective_at`` are listed by ``recorded_at`` (then a grant
    before the withdrawal that beats it), the order in which
    :func:`crmcore.consent.current_consents` lets the later one win.

    Raises:
        ValidationError: naming the bad argument.
    """
    party = _record(record)
    wanted = None if channel is None else enum_member(Channel, channel, "channel")
    key_purpose = None if purpose is None else normalize_purpose(purpose)
    events = (
        e
        for e in party.consent_events
        if (wanted is None or e.channel is wanted)
        and (key_purpose is None or e.purpose == key_purpose)
    )
    return tuple(sorted(events, key=event_order))
