"""Subject requests: a person asking to see, take, erase, restrict, correct or object.

A :class:`SubjectRequest` is the bookkeeping Art. 12(3) GDPR asks for (and the
Indonesian PDP law's articles 32-42 mirror): when a request was received, what
it asks for, its deadline (one calendar month after receipt, extendable by at
most two further months when the request is complex) and when it was
answered. Stores keep them in ``store.requests``
(:class:`~crmcore.storage.SupportsPrivacy`); the services in
:mod:`crmcore.privacy` open, extend and answer them.

A calendar month ends on the same day of the next month, or on that month's
last day when it is shorter (received 31 January, due 28 or 29 February), which
is how the EU's rule on periods (Regulation 1182/71, Art. 3(2)(c)) counts it.
"""

from __future__ import annotations

import calendar
import enum
from datetime import UTC, datetime
from typing import Final

import attrs

from crmcore._validation import Problems, ensure_utc, enum_member, utcnow
from crmcore.errors import InvalidTransition, ValidationError
from crmcore.ids import RequestId, is_valid_id, new_request_id

__all__ = ["MAX_EXTENSION_MONTHS", "RequestKind", "SubjectRequest", "add_months"]

MAX_EXTENSION_MONTHS: Final = 2
"""How many months past the first deadline a request may be extended (Art. 12(3))."""
MAX_NOTE: Final = 2_000
MAX_SUBJECT_ID: Final = 64
# Three months before the end of datetime's range: the latest deadline must exist.
_LATEST: Final = datetime(9999, 9, 1, tzinfo=UTC)


class RequestKind(enum.Enum):
    """What a data subject asks for."""

    ACCESS = "access"
    """A copy of their data (Art. 15)."""
    PORTABILITY = "portability"
    """Their data in a machine-readable form (Art. 20)."""
    ERASURE = "erasure"
    """That their data be erased (Art. 17)."""
    RESTRICTION = "restriction"
    """That processing be restricted (Art. 18)."""
    RECTIFICATION = "rectification"
    """That inaccurate data be corrected (Art. 16)."""
    OBJECTION = "objection"
    """An objection to processing, marketing included (Art. 21)."""


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus ``months`` calendar months, on the month's last day when shorter."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@attrs.frozen
class SubjectRequest:
    """One request of a data subject, with its deadline.

    Build one with :meth:`create`; :meth:`extended` and :meth:`answered`
    return the next version. ``note`` is free text and may describe the
    person, so the repr leaves it out.
    """

    id: RequestId
    kind: RequestKind
    subject_id: str | None
    received_at: datetime
    due_at: datetime
    extended_until: datetime | None = None
    answered_at: datetime | None = None
    note: str | None = attrs.field(default=None, repr=False)
    version: int = 0

    def __attrs_post_init__(self) -> None:
        problems = Problems()
        if not is_valid_id(self.id, "req_"):
            problems.add("id", "must be a request id")
        if not isinstance(self.kind, RequestKind):
            problems.add("kind", "must be a RequestKind")
        if self.subject_id is not None and (
            not isinstance(self.subject_id, str) or not 1 <= len(self.subject_id) <= MAX_SUBJECT_ID
        ):
            problems.add("subject_id", "must be a record id")
        problems.utc(self, "received_at", "due_at")
        for name in ("extended_until", "answered_at"):
            if getattr(self, name) is not None:
                problems.utc(self, name)
        if self.note is not None and (
            not isinstance(self.note, str) or not 1 <= len(self.note) <= MAX_NOTE
        ):
            problems.add("note", f"must be 1 to {MAX_NOTE} characters")
        problems.check_version(self.version)
        problems.raise_if_any()
        # The order of the dates, once each is known to be a UTC datetime.
        if self.received_at > _LATEST:
            raise ValidationError("received_at", "is too late for a deadline to follow it")
        if self.due_at != add_months(self.received_at, 1):
            problems.add("due_at", "must be one calendar month after received_at")
        if self.extended_until is not None and not (
            self.due_at
            < self.extended_until
            <= add_months(self.received_at, 1 + MAX_EXTENSION_MONTHS)
        ):
            problems.add("extended_until", "must be after due_at and at most 2 months later")
        if self.answered_at is not None and self.answered_at < self.received_at:
            problems.add("answered_at", "must not be before received_at")
        problems.raise_if_any()

    @classmethod
    def create(
        cls,
        kind: RequestKind | str,
        *,
        subject_id: str | None = None,
        received_at: datetime | None = None,
        note: str | None = None,
    ) -> SubjectRequest:
        """A new request, due one calendar month after ``received_at`` (default now).

        Raises:
            ValidationError: naming the field that is invalid.
        """
        checked = enum_member(RequestKind, kind, "kind")
        received = utcnow() if received_at is None else ensure_utc(received_at, "received_at")
        if received > _LATEST:
            raise ValidationError("received_at", "is too late for a deadline to follow it")
        return cls(
            id=new_request_id(),
            kind=checked,
            subject_id=subject_id,
            received_at=received,
            due_at=add_months(received, 1),
            note=note,
        )

    @property
    def deadline(self) -> datetime:
        """When the answer is due: ``extended_until`` if extended, else ``due_at``."""
        return self.due_at if self.extended_until is None else self.extended_until

    @property
    def is_open(self) -> bool:
        """Whether the request is still unanswered."""
        return self.answered_at is None

    def extended(
        self, *, months: int = MAX_EXTENSION_MONTHS, note: str | None = None
    ) -> SubjectRequest:
        """This request with its deadline moved ``months`` (1 or 2) past ``due_at``.

        Raises:
            ValidationError: naming ``months`` when it is not 1 or 2.
            InvalidTransition: the request was answered already.
        """
        if isinstance(months, bool) or months not in range(1, MAX_EXTENSION_MONTHS + 1):
            raise ValidationError("months", f"must be 1 to {MAX_EXTENSION_MONTHS}")
        if not self.is_open:
            raise InvalidTransition("an answered request cannot be extended")
        return attrs.evolve(
            self,
            extended_until=add_months(self.received_at, 1 + months),
            note=self.note if note is None else note,
        )

    def answered(self, *, at: datetime | None = None, note: str | None = None) -> SubjectRequest:
        """This request marked answered at ``at`` (default now).

        Raises:
            InvalidTransition: the request was answered already.
            ValidationError: naming ``answered_at`` when ``at`` is before receipt.
        """
        if not self.is_open:
            raise InvalidTransition("the request was answered already")
        return attrs.evolve(
            self,
            answered_at=utcnow() if at is None else at,
            note=self.note if note is None else note,
        )
