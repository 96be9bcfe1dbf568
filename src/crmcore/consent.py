"""Consent to be contacted: an append-only ledger of events, and the state derived from it.

A person's consent is a history, not a flag. Every grant or withdrawal is a
:class:`ConsentEvent` for one contact point (a specific email address or
phone number, or ``None``: the person as a whole), one channel and one
purpose, with the moment it takes effect (``effective_at``, not when it was
typed in), who recorded it and from what (``source``, :class:`ConsentEvidence`),
the legal basis and an optional expiry. :func:`current_consents` derives the
state per (contact point, channel, purpose) from the events; a customer's or a
lead's ``consents`` are that state.

Decisions (documented here because the rules must be the same everywhere):

- The event with the latest ``effective_at`` not after the moment asked about
  wins; ties go to the later ``recorded_at``, then a withdrawal beats a grant,
  then a fixed order of the remaining fields, so the state never depends on the
  order the events are listed in. Recording an old event never overrides a
  newer one.
- A grant whose ``expires_at`` has passed counts as a withdrawal (the derived
  :class:`Consent` is ``withdrawn`` and keeps its ``expires_at``); only grants
  expire, and an expiry comes after the event takes effect.
- :func:`merge_consent_events` (merges, conversions) keeps every event of every
  ledger and adds a withdrawal (source ``"merge"``) wherever the union would
  grant what one of the ledgers does not, at the merge and at every later
  moment one of the events takes effect or expires: a merge never upgrades
  consent. A ledger with no event for a key says nothing about it: it does not
  take away another ledger's grant (no event is not a refusal).
- Contact points are stored normalised: an email address by its match key
  (case-folded), a phone number in E.164. Free text (purpose, source, evidence,
  contact points, restriction reasons) is masked in every repr.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import attrs

from crmcore._validation import Problems, ensure_utc, tuple_of, utcnow
from crmcore.errors import ValidationError
from crmcore.interactions import Channel
from crmcore.values import EmailAddress, PhoneNumber, clean_text, optional_text

__all__ = [
    "MERGE_SOURCE",
    "Consent",
    "ConsentEvent",
    "ConsentEvidence",
    "ConsentKey",
    "ConsentStatus",
    "LegalBasis",
    "Restriction",
    "current_consents",
    "event_order",
    "merge_consent_events",
    "normalize_contact_point",
    "normalize_purpose",
]

MERGE_SOURCE = "merge"
"""The ``source`` of the withdrawals :func:`merge_consent_events` adds."""

MAX_REASON_LENGTH = 500
_MAX_IP_LENGTH = 64

ConsentKey = tuple[str | None, Channel, str]
"""What one state is kept for: (contact point or ``None``, channel, purpose)."""


class ConsentStatus(enum.Enum):
    """Whether a person agreed to be contacted."""

    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


class LegalBasis(enum.Enum):
    """The GDPR Art. 6 basis a contact relies on."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTERESTS = "legitimate_interests"


def normalize_purpose(value: object, field: str = "purpose") -> str:
    """A consent purpose as stored: trimmed, whitespace-folded and case-folded."""
    purpose = optional_text(value, field, max_length=100)
    if purpose is None:
        raise ValidationError(field, "must not be blank")
    return purpose.casefold()


def normalize_contact_point(value: object, field: str = "contact_point") -> str | None:
    """A contact point as a consent event keeps it: an email's match key or an E.164 number.

    Text with an ``@`` is read as an email address, other text as a phone
    number in international form (``+46...``); an :class:`EmailAddress` or a
    :class:`PhoneNumber` is taken as it is. ``None`` (the person as a whole) stays ``None``.
    """
    if value is None:
        return None
    if isinstance(value, EmailAddress):
        return value.match_key
    if isinstance(value, PhoneNumber):
        return value.e164
    if not isinstance(value, str):
        raise ValidationError(field, "must be an email address or a phone number")
    if "@" in value:
        return EmailAddress.parse(value, field=field).match_key
    return PhoneNumber.parse(value, None, field=field).e164


def _masked(value: object) -> str:
    # Free text typed by whoever recorded the consent ("phoned Ada Lovelace on
    # 0701234567") can hold personal data, and reprs end up in logs.
    return "None" if value is None else "<masked>"


def _check_contact_point(instance: Any, problems: Problems) -> None:
    if instance.contact_point is not None:
        problems.set(instance, "contact_point", normalize_contact_point, instance.contact_point)


def _check_common(instance: Any, problems: Problems) -> None:
    if not isinstance(instance.channel, Channel):
        problems.add("channel", "must be a Channel")
    problems.set(instance, "purpose", normalize_purpose, instance.purpose)
    if not isinstance(instance.status, ConsentStatus):
        problems.add("status", "must be a ConsentStatus")
    if not isinstance(instance.legal_basis, LegalBasis):
        problems.add("legal_basis", "must be a LegalBasis")
    problems.set(instance, "source", optional_text, instance.source, "source", max_length=200)
    _check_contact_point(instance, problems)


@attrs.frozen
class Consent:
    """The state of consent for one channel and purpose (``marketing``, ``newsletter``...).

    :func:`current_consents` derives it from a ledger of :class:`ConsentEvent`
    objects: the fields are those of the event that decided it, ``status``
    ``withdrawn`` when that event was a grant that has expired.
    ``contact_point`` is the email address or phone number it concerns
    (``None``: the person as a whole); ``effective_at`` defaults to
    ``recorded_at``. Its repr masks the free-text ``purpose``, ``source`` and
    ``contact_point``.
    """

    channel: Channel
    purpose: str = attrs.field(repr=_masked)
    status: ConsentStatus
    recorded_at: datetime
    source: str | None = attrs.field(default=None, repr=_masked)
    legal_basis: LegalBasis = LegalBasis.CONSENT
    contact_point: str | None = attrs.field(default=None, repr=_masked)
    effective_at: datetime = attrs.field(
        default=attrs.Factory(lambda self: self.recorded_at, takes_self=True)
    )
    expires_at: datetime | None = None

    def __attrs_post_init__(self) -> None:
        problems = Problems()
        _check_common(self, problems)
        problems.utc(self, "recorded_at", "effective_at")
        if self.expires_at is not None:
            problems.utc(self, "expires_at")
        problems.raise_if_any()

    @property
    def granted(self) -> bool:
        """Whether contact is allowed."""
        return self.status is ConsentStatus.GRANTED

    @property
    def key(self) -> ConsentKey:
        """(contact point, channel, purpose): what this state is for."""
        return (self.contact_point, self.channel, self.purpose)


@attrs.frozen
class ConsentEvidence:
    """What proves a consent event: the form, the IP address, a double opt-in confirmation.

    ``ip_address`` is checked and normalised with :mod:`ipaddress`;
    ``confirmed_at`` is when the person confirmed (double opt-in), in UTC;
    ``reference`` is the app's own pointer (a ticket, a recording). Its repr
    masks everything but ``confirmed_at``: an IP address is personal data.
    """

    form_id: str | None = attrs.field(default=None, repr=_masked)
    ip_address: str | None = attrs.field(default=None, repr=_masked)
    confirmed_at: datetime | None = None
    reference: str | None = attrs.field(default=None, repr=_masked)

    def __attrs_post_init__(self) -> None:
        problems = Problems()
        problems.set(self, "form_id", optional_text, self.form_id, "form_id", max_length=200)
        if self.ip_address is not None:
            problems.set(self, "ip_address", _ip_address, self.ip_address)
        if self.confirmed_at is not None:
            problems.utc(self, "confirmed_at")
        problems.set(self, "reference", optional_text, self.reference, "reference", max_length=500)
        problems.raise_if_any()


def _ip_address(value: object) -> str:
    # The length first: ipaddress is quick, but the cap is the rule everywhere.
    if not isinstance(value, str) or len(value) > _MAX_IP_LENGTH:
        raise ValidationError("ip_address", "must be an IPv4 or IPv6 address")
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValidationError("ip_address", "must be an IPv4 or IPv6 address") from None


@attrs.frozen
class ConsentEvent:
    """One grant or withdrawal of consent, as recorded: an entry of the consent ledger.

    ``effective_at`` is when it takes effect (a signed paper form dated last
    week), ``recorded_at`` when it was recorded (default now); both UTC.
    ``contact_point`` is the normalised email address or E.164 phone number it
    concerns, ``None`` for the person as a whole. Only a grant has an
    ``expires_at``, after ``effective_at``. Its repr masks ``purpose``,
    ``source`` and ``contact_point``.
    """

    channel: Channel
    purpose: str = attrs.field(repr=_masked)
    status: ConsentStatus
    effective_at: datetime
    recorded_at: datetime = attrs.field(factory=utcnow)
    contact_point: str | None = attrs.field(default=None, repr=_masked)
    source: str | None = attrs.field(default=None, repr=_masked)
    evidence: ConsentEvidence | None = None
    legal_basis: LegalBasis = LegalBasis.CONSENT
    expires_at: datetime | None = None

    def __attrs_post_init__(self) -> None:
        problems = Problems()
        _check_common(self, problems)
        problems.utc(self, "effective_at", "recorded_at")
        if self.evidence is not None and not isinstance(self.evidence, ConsentEvidence):
            problems.add("evidence", "must be ConsentEvidence")
        if self.expires_at is not None:
            problems.utc(self, "expires_at")
            if isinstance(self.status, ConsentStatus) and self.status is not ConsentStatus.GRANTED:
                problems.add("expires_at", "only a grant expires")
            elif (
                isinstance(self.expires_at, datetime)
                and isinstance(self.effective_at, datetime)
                and self.expires_at.tzinfo is not None
                and self.effective_at.tzinfo is not None
                and self.expires_at <= self.effective_at
            ):
                problems.add("expires_at", "must be after effective_at")
        problems.raise_if_any()

    @property
    def key(self) -> ConsentKey:
        """(contact point, channel, purpose): the state this event is part of."""
        return (self.contact_point, self.channel, self.purpose)

    @property
    def granted(self) -> bool:
        """Whether this event grants consent."""
        return self.status is ConsentStatus.GRANTED

    def expired(self, at: datetime) -> bool:
        """Whether this grant has expired at ``at``."""
        return self.expires_at is not None and self.expires_at <= at

    def state(self, at: datetime) -> Consent:
        """The :class:`Consent` this event makes at ``at`` (an expired grant: withdrawn)."""
        status = ConsentStatus.WITHDRAWN if self.expired(at) else self.status
        # The event's fields were checked when it was built: a record's
        # ``consents`` derive a state per key on every read, without parsing
        # each contact point again.
        state: Consent = object.__new__(Consent)
        for name, value in (
            ("channel", self.channel),
            ("purpose", self.purpose),
            ("status", status),
            ("recorded_at", self.recorded_at),
            ("source", self.source),
            ("legal_basis", self.legal_basis),
            ("contact_point", self.contact_point),
            ("effective_at", self.effective_at),
            ("expires_at", self.expires_at),
        ):
            object.__setattr__(state, name, value)
        return state


@attrs.frozen
class Restriction:
    """A restriction of processing (GDPR Art. 18): why, and since when.

    While a record is restricted, crmcore leaves it out of deduplication,
    merges, conversion matching and marketing consent checks. ``reason`` (1 to
    500 characters) is masked in the repr.
    """

    reason: str = attrs.field(repr=_masked)
    since: datetime

    def __attrs_post_init__(self) -> None:
        problems = Problems()
        problems.set(
            self, "reason", clean_text, self.reason, "reason", max_length=MAX_REASON_LENGTH
        )
        problems.utc(self, "since")
        problems.raise_if_any()


# --------------------------------------------------------------------------- derivation


def _optional(value: Any) -> tuple[bool, Any]:
    return (False, "") if value is None else (True, value)


def event_order(event: ConsentEvent) -> tuple[Any, ...]:
    """A total order of events: effective, recorded, withdrawal over grant, then the rest.

    The last event of a key in this order is its current state; the fields
    after the status only make the order total, so that listing the same
    events in any order yields the same state and the same sorted ledger.
    """
    evidence = event.evidence
    return (
        event.effective_at,
        event.recorded_at,
        event.status is ConsentStatus.WITHDRAWN,
        event.contact_point or "",
        event.channel.value,
        event.purpose,
        event.legal_basis.value,
        _optional(event.source),
        _optional(event.expires_at),
        evidence is not None,
        ()
        if evidence is None
        else (
            _optional(evidence.form_id),
            _optional(evidence.ip_address),
            _optional(evidence.confirmed_at),
            _optional(evidence.reference),
        ),
    )


def _key_order(key: ConsentKey) -> tuple[str, str, str]:
    return (key[0] or "", key[1].value, key[2])


def _events_of(events: Iterable[ConsentEvent], field: str) -> tuple[ConsentEvent, ...]:
    return tuple_of(events, ConsentEvent, field)


def _winners(events: Iterable[ConsentEvent], at: datetime) -> dict[ConsentKey, ConsentEvent]:
    latest: dict[ConsentKey, tuple[tuple[Any, ...], ConsentEvent]] = {}
    for event in events:
        if event.effective_at > at:
            continue
        order = event_order(event)
        held = latest.get(event.key)
        if held is None or order > held[0]:
            latest[event.key] = (order, event)
    return {key: event for key, (_, event) in latest.items()}


def current_consents(
    events: Iterable[ConsentEvent], *, at: datetime | None = None
) -> tuple[Consent, ...]:
    """The state of consent per (contact point, channel, purpose), derived from a ledger.

    Per key, the event with the latest ``effective_at`` not after ``at``
    (default now) wins; ties go to the later ``recorded_at``, then a
    withdrawal beats a grant. An expired grant counts as withdrawn. Keys whose
    events all take effect after ``at`` have no state yet. The result is
    sorted by contact point (person-wide first), channel and purpose.

    Args:
        events: the ledger, in any order.
        at: the moment asked about (UTC-aware; default now).

    Raises:
        ValidationError: ``events`` holds something else than ConsentEvent
            values, or ``at`` is not an aware datetime.
    """
    ledger = _events_of(events, "events")
    moment = utcnow() if at is None else ensure_utc(at, "at")
    winners = _winners(ledger, moment)
    return tuple(winners[key].state(moment) for key in sorted(winners, key=_key_order))


def _granted(events: Sequence[ConsentEvent], at: datetime) -> bool | None:
    """The state of one key's events at ``at``: granted, not granted, or none yet."""
    winner = _winners(events, at)
    if not winner:
        return None
    (event,) = winner.values()
    return event.granted and not event.expired(at)


def merge_consent_events(
    ledgers: Iterable[Sequence[ConsentEvent]], *, at: datetime
) -> tuple[ConsentEvent, ...]:
    """One ledger from several (the records of a merge, a lead and its customer).

    The union of the ledgers, each event once, sorted by :func:`event_order`;
    plus, for every key, a withdrawal (``source`` ``"merge"``) at ``at`` and at
    every later moment an event of that key takes effect or expires, whenever
    the union would be granted then while some ledger that has a state for the
    key is not: a merge never upgrades consent. A ledger with no event for a
    key leaves the others' state of it alone. The withdrawals are recorded at
    ``at`` or after the key's latest ``recorded_at``, so they win the ties.

    Args:
        ledgers: the records' ``consent_events``.
        at: when the merge happens (UTC-aware).

    Raises:
        ValidationError: naming ``ledgers[i]`` or ``at``.
    """
    if isinstance(ledgers, str | bytes) or not isinstance(ledgers, Iterable):
        raise ValidationError("ledgers", "must be a collection of ledgers")
    sources = [_events_of(ledger, f"ledgers[{i}]") for i, ledger in enumerate(ledgers)]
    moment = ensure_utc(at, "at")
    union = sorted(set().union(*sources), key=event_order)
    by_key: dict[ConsentKey, list[ConsentEvent]] = {}
    for event in union:
        by_key.setdefault(event.key, []).append(event)
    added: list[ConsentEvent] = []
    for key in sorted(by_key, key=_key_order):
        events = by_key[key]
        own = [[e for e in source if e.key == key] for source in sources]
        own = [events_of_source for events_of_source in own if events_of_source]
        if len(own) < 2:
            continue  # one ledger's own history: nothing to reconcile
        recorded = max(moment, max(e.recorded_at for e in events))
        moments = {moment}
        for event in events:
            for when in (event.effective_at, event.expires_at):
                if when is not None and when > moment:
                    moments.add(when)
        merged = list(events)
        for when in sorted(moments):
            if not _granted(merged, when):
                continue
            if any(_granted(source, when) is False for source in own):
                withdrawal = ConsentEvent(
                    channel=key[1],
                    purpose=key[2],
                    status=ConsentStatus.WITHDRAWN,
                    effective_at=when,
                    recorded_at=recorded,
                    contact_point=key[0],
                    source=MERGE_SOURCE,
                )
                merged.append(withdrawal)
                added.append(withdrawal)
    return tuple(sorted((*union, *added), key=event_order))
