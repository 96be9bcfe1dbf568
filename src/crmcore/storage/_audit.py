"""What every store shares for :class:`~crmcore.storage.SupportsPrivacy`: argument checks,
the targets a write reports, and the compact encoding the database backends store.

A write path calls its store's ``_report(conn, action, targets)`` inside its
write transaction, after the rows are written: :func:`crmcore.audit.report`
decides whether the targets join an open :func:`~crmcore.audit.audited` block
or make an entry of their own, which the store then appends in the same
transaction. A write that fails reports nothing; a savepoint that rolls back
inside an ``audited`` block takes its targets back out (:func:`audit_mark`).
"""

from __future__ import annotations

import builtins
import json
import zlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeGuard, TypeVar

import attrs

from crmcore._validation import ensure_utc, enum_member, items_of
from crmcore.audit import (
    AuditAction,
    AuditCollection,
    AuditEntry,
    AuditTarget,
    changed_fields,
    collecting,
)
from crmcore.cases import Case
from crmcore.customers import Customer
from crmcore.errors import DataError, ValidationError
from crmcore.interactions import Interaction
from crmcore.leads import Lead
from crmcore.merge_record import MergeRecord
from crmcore.opportunities import Opportunity
from crmcore.storage._common import micros
from crmcore.storage._front import (
    Errors,
    check_limit,
    decode_cursor,
    encode_cursor,
)
from crmcore.storage.protocols import Page
from crmcore.subject_requests import RequestKind, SubjectRequest
from crmcore.tasks import Task

AUDIT: Final = Errors("audit entry")
REQUEST: Final = Errors("subject request")
MERGE: Final = Errors("merge record")
AUDIT_TAG: Final = "audit"
REQUEST_TAG: Final = "requests"
MAX_DIGEST: Final = 128
SECRET_BYTES: Final = 32

Keyed = TypeVar("Keyed", AuditEntry, SubjectRequest)

_ENTITY_OF: Final[dict[type, str]] = {
    Customer: "customer",
    Lead: "lead",
    Interaction: "interaction",
    MergeRecord: "merge",
    Opportunity: "opportunity",
    Task: "task",
    Case: "case",
    SubjectRequest: "request",
}


def entity_of(record: object) -> str:
    """The audit entity of a stored record (``"customer"``, ``"merge"``, ...)."""
    return _ENTITY_OF[type(record)]


def _target(entity: str, record_id: str, version: int | None, fields: tuple[str, ...]) -> Any:
    # The store's own targets name records it has just checked and stored: built
    # without the constructor's checks, which would cost a tenth of add_many.
    target = object.__new__(AuditTarget)
    object.__setattr__(target, "entity", entity)
    object.__setattr__(target, "id", record_id)
    object.__setattr__(target, "version", version)
    object.__setattr__(target, "fields", fields)
    return target


def added(entity: str, records: Iterable[Any]) -> builtins.list[AuditTarget]:
    """The targets of newly stored (or placed) records: id and version, no fields."""
    return [_target(entity, r.id, r.version, ()) for r in records]


def updated(entity: str, before: Any, after: Any) -> builtins.list[AuditTarget]:
    """The target of an update: the stored version and the names of the fields it changed."""
    return [_target(entity, after.id, after.version, changed_fields(before, after))]


def deleted(entity: str, record_id: str) -> builtins.list[AuditTarget]:
    """The target of a delete (no version: the record is gone)."""
    return [_target(entity, record_id, None, ())]


def loaded(records: Iterable[Any]) -> builtins.list[AuditTarget]:
    """The targets of a ``load``: every record placed, with its entity."""
    return [_target(entity_of(r), r.id, r.version, ()) for r in records]


def audit_mark(store: object) -> tuple[AuditCollection, int] | None:
    """Where the open ``audited`` block of ``store`` stands (to undo a savepoint's targets)."""
    collection = collecting(store)
    return None if collection is None else (collection, len(collection.targets))


def rewind(mark: tuple[AuditCollection, int] | None) -> None:
    """Forget the targets reported since ``mark`` (their writes were rolled back)."""
    if mark is not None:
        del mark[0].targets[mark[1] :]


# --------------------------------------------------------------------------- checks


def check_entry(entry: object) -> AuditEntry:
    """The argument of ``audit.append``: an AuditEntry."""
    if not isinstance(entry, AuditEntry):
        raise ValidationError("entry", "must be an AuditEntry")
    return entry


@attrs.frozen
class AuditQuery:
    """The checked arguments of ``audit.list``."""

    record_id: str | None
    action: AuditAction | None
    since: int | None
    """Microseconds since the epoch (inclusive), or ``None``."""
    size: int
    after: str | None
    """The id of the last entry of the previous page."""


def check_audit_list(
    record_id: object, action: object, since: object, limit: object, cursor: object
) -> AuditQuery:
    """Check every argument of ``audit.list``."""
    if record_id is not None and (not isinstance(record_id, str) or not record_id):
        raise ValidationError("record_id", "must be a record id")
    checked_action = None if action is None else enum_member(AuditAction, action, "action")
    at = None if since is None else micros(ensure_utc(since, "since"))
    size, after = _page_args(limit, cursor, AUDIT_TAG)
    return AuditQuery(record_id, checked_action, at, size, after)


def check_digests(digests: Iterable[str]) -> builtins.list[str]:
    """The argument of ``suppressions.add``: digests, each once, in order."""
    batch = items_of(digests, "digests")
    for i, digest in enumerate(batch):
        if not is_digest(digest):
            raise ValidationError(
                f"digests[{i}]", f"must be 1 to {MAX_DIGEST} printable ASCII characters"
            )
    return list(dict.fromkeys(batch))


def is_digest(digest: object) -> TypeGuard[str]:
    """Whether ``digest`` could be on a suppression list (printable ASCII, 1 to 128)."""
    return (
        isinstance(digest, str)
        and 1 <= len(digest) <= MAX_DIGEST
        and digest.isascii()
        and digest.isprintable()
    )


def check_request(request: object) -> SubjectRequest:
    """The argument of ``requests.add`` and ``requests.update``."""
    if not isinstance(request, SubjectRequest):
        raise ValidationError("request", "must be a SubjectRequest")
    return request


@attrs.frozen
class RequestQuery:
    """The checked arguments of ``requests.list``."""

    open_only: bool
    size: int
    after: str | None


def check_request_list(open_only: object, limit: object, cursor: object) -> RequestQuery:
    """Check every argument of ``requests.list``."""
    if not isinstance(open_only, bool):
        raise ValidationError("open_only", "must be true or false")
    size, after = _page_args(limit, cursor, REQUEST_TAG)
    return RequestQuery(open_only, size, after)


def _page_args(limit: object, cursor: object, tag: str) -> tuple[int, str | None]:
    """The page size, and the id to start after, of a list in id order (``tag``'s cursors)."""
    size = check_limit(limit)
    assert size is not None
    return size, None if cursor is None else decode_cursor(cursor, tag, str)[1]


def page_by_id(found: Sequence[Keyed], size: int, tag: str) -> Page[Keyed]:
    """A page of ``audit.list`` or ``requests.list`` (``tag``) from what was read in id order.

    More than ``size`` read: there is a next page, and the cursor names the last id shown.
    """
    if len(found) <= size:
        return Page(tuple(found), None)
    last = found[size - 1].id
    return Page(tuple(found[:size]), encode_cursor(tag, last, last))


# --------------------------------------------------------------------------- encoding

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def from_micros(value: int) -> datetime:
    """The UTC datetime of a stored microsecond count."""
    return _EPOCH + timedelta(microseconds=value)


def encode_targets(targets: Sequence[AuditTarget]) -> str:
    """The targets as compact JSON: runs of one entity, version and fields share a group.

    ``[[entity, version, [fields...], [id, id, ...]], ...]``: an ``add_many`` of
    10,000 records is one group, a tenth of the text (and of the time) of a
    list per target. Order is kept: a group holds consecutive targets only.
    """
    groups: builtins.list[builtins.list[Any]] = []
    key: tuple[Any, ...] | None = None
    ids: builtins.list[str] = []
    for t in targets:
        here = (t.entity, t.version, t.fields)
        if here != key:
            ids = []
            groups.append([t.entity, t.version, t.fields, ids])
            key = here
        ids.append(t.id)
    return json.dumps(groups, separators=(",", ":"), ensure_ascii=False)


_PACK_ABOVE: Final = 2_048


def pack_targets(targets: Sequence[AuditTarget]) -> str | bytes:
    """:func:`encode_targets`, zlib-compressed when longer than 2 KiB (an ``add_many``:
    the ids of one batch share most of their characters, so it shrinks several times)."""
    text = encode_targets(targets)
    if len(text) <= _PACK_ABOVE:
        return text
    return zlib.compress(text.encode(), 1)


def decode_targets(text: str | bytes) -> tuple[AuditTarget, ...]:
    """The targets :func:`encode_targets` (or :func:`pack_targets`) wrote."""
    if isinstance(text, bytes):
        text = zlib.decompress(text).decode()
    return tuple(
        AuditTarget(entity, record_id, version, tuple(fields))
        for entity, version, fields, ids in json.loads(text)
        for record_id in ids
    )


def record_ids_json(entry: AuditEntry) -> str:
    """The ids an entry names, as a JSON array (for SQLite's ``json_each``)."""
    return json.dumps(entry.record_ids, separators=(",", ":"))


def entry_row(entry: AuditEntry) -> tuple[Any, ...]:
    """The stored row of an entry: id, at (µs), actor, action, operation, targets."""
    return (
        entry.id,
        micros(entry.at),
        entry.actor,
        entry.action.value,
        entry.operation,
        encode_targets(entry.targets),
    )


def decode_entry(row: Sequence[Any]) -> AuditEntry:
    """An entry from the row :func:`entry_row` wrote (``DataError`` when unreadable)."""
    try:
        entry_id, at, actor, action, operation, targets = row
        return AuditEntry(
            id=entry_id,
            at=from_micros(at),
            actor=actor,
            action=AuditAction(action),
            operation=operation,
            targets=decode_targets(targets),
        )
    except (ValueError, TypeError, zlib.error) as exc:
        raise AUDIT.unreadable() from exc


def _stamp(value: datetime | None) -> int | None:
    return None if value is None else micros(value)


def request_doc(request: SubjectRequest) -> str:
    """A request as JSON (its datetimes as microseconds)."""
    return json.dumps(
        {
            "id": request.id,
            "kind": request.kind.value,
            "subject_id": request.subject_id,
            "received_at": micros(request.received_at),
            "due_at": micros(request.due_at),
            "extended_until": _stamp(request.extended_until),
            "answered_at": _stamp(request.answered_at),
            "note": request.note,
            "version": request.version,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


def decode_request(doc: str) -> SubjectRequest:
    """A request from the JSON :func:`request_doc` wrote (``DataError`` when unreadable)."""
    try:
        data = json.loads(doc)
        return SubjectRequest(
            id=data["id"],
            kind=RequestKind(data["kind"]),
            subject_id=data["subject_id"],
            received_at=from_micros(data["received_at"]),
            due_at=from_micros(data["due_at"]),
            extended_until=None
            if data["extended_until"] is None
            else from_micros(data["extended_until"]),
            answered_at=None if data["answered_at"] is None else from_micros(data["answered_at"]),
            note=data["note"],
            version=data["version"],
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise REQUEST.unreadable() from exc


def unreadable_secret() -> DataError:
    """The stored privacy secret is not 32 bytes (the store is at fault)."""
    return DataError("the store's privacy secret cannot be read")
