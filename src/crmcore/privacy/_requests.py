"""Subject-request bookkeeping: received when, asking what, due when, answered when.

Art. 12(3) GDPR (and the Indonesian PDP law) give a controller one month to
answer a data subject, extendable by two further months for complex
requests. These services keep that record in ``store.requests``
(:class:`~crmcore.storage.SupportsPrivacy`); the dates follow
:class:`~crmcore.subject_requests.SubjectRequest` (calendar months).

Decisions: ``subject_id`` is not checked against the stored records (a
request may come from someone not found, or be about a record erased since);
every change is compare-and-set on the request's version, so two people
answering one request at once cannot both succeed; :func:`due_requests`
lists the open requests whose deadline (the extension when there is one)
falls before ``before``, soonest first.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from crmcore._validation import ensure_utc, utcnow
from crmcore.errors import ValidationError
from crmcore.subject_requests import MAX_EXTENSION_MONTHS, RequestKind, SubjectRequest

if TYPE_CHECKING:
    from crmcore.storage.protocols import RequestRepository

__all__ = ["answer_request", "due_requests", "extend_request", "open_request"]

_PAGE = 500


def _requests(store: object) -> RequestRepository:
    from crmcore.storage.protocols import SupportsPrivacy

    if not isinstance(store, SupportsPrivacy):
        raise ValidationError("store", "must keep subject requests (SupportsPrivacy)")
    return store.requests


def _request_id(request_id: object) -> str:
    if not isinstance(request_id, str) or not request_id.startswith("req_"):
        raise ValidationError("request_id", "must be a request id")
    return request_id


def open_request(
    store: Any,
    kind: RequestKind | str,
    *,
    subject_id: str | None = None,
    received_at: datetime | None = None,
    note: str | None = None,
) -> SubjectRequest:
    """Record a request received at ``received_at`` (default now), due one calendar month later.

    Raises:
        ValidationError: naming ``kind``, ``subject_id``, ``received_at`` or
            ``note`` when invalid, or ``store`` when it keeps no requests.
    """
    requests = _requests(store)
    return requests.add(
        SubjectRequest.create(kind, subject_id=subject_id, received_at=received_at, note=note)
    )


def extend_request(
    store: Any, request_id: str, *, months: int = MAX_EXTENSION_MONTHS, note: str | None = None
) -> SubjectRequest:
    """Extend an open request's deadline by ``months`` (1 or 2) past its first deadline.

    ``note`` (why it was extended: Art. 12(3) asks the controller to tell
    the person) replaces the request's note when given.

    Raises:
        NotFound: no such request.
        InvalidTransition: the request was answered already.
        VersionConflict: another writer changed it meanwhile.
        ValidationError: naming ``months`` or ``note``.
    """
    requests = _requests(store)
    current = requests.get(_request_id(request_id))
    return requests.update(current.extended(months=months, note=note))


def answer_request(
    store: Any, request_id: str, *, at: datetime | None = None, note: str | None = None
) -> SubjectRequest:
    """Mark an open request answered at ``at`` (default now).

    Raises:
        NotFound: no such request.
        InvalidTransition: the request was answered already.
        VersionConflict: another writer changed it meanwhile.
        ValidationError: naming ``at`` (not UTC-aware, or before receipt) or ``note``.
    """
    requests = _requests(store)
    moment = None if at is None else ensure_utc(at, "at")
    current = requests.get(_request_id(request_id))
    return requests.update(current.answered(at=moment, note=note))


def due_requests(store: Any, *, before: datetime | None = None) -> list[SubjectRequest]:
    """The open requests whose deadline is before ``before`` (default now), soonest first.

    A request's deadline is its extension when it has one, else one month
    after receipt. Pass a later ``before`` to see what falls due soon.

    Raises:
        ValidationError: naming ``before`` when it is not UTC-aware, or
            ``store`` when it keeps no requests.
    """
    requests = _requests(store)
    limit = utcnow() if before is None else ensure_utc(before, "before")
    found: list[SubjectRequest] = []
    cursor = None
    while True:
        page = requests.list(open_only=True, limit=_PAGE, cursor=cursor)
        found += [r for r in page.items if r.is_open and r.deadline < limit]
        cursor = page.next_cursor
        if cursor is None:
            break
    return sorted(found, key=lambda r: (r.deadline, r.id))
