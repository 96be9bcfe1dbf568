"""InMemoryStore: the reference semantics of every crmcore store, thread-safe.

Everything lives in dicts guarded by one re-entrant lock; a write (and a whole
:meth:`InMemoryStore.transaction`) holds the lock, so other threads see either
none or all of it. Rollback replays an undo log, so transactions nest as
savepoints. Use it in tests, in small apps, and as the model the contract kit
compares adapters with.
"""

from __future__ import annotations

import builtins
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final, Generic, Protocol, TypeVar

import attrs

from crmcore._validation import items_of, utcnow
from crmcore.audit import AuditAction, AuditEntry, AuditTarget, report
from crmcore.cases import Case
from crmcore.customers import Customer
from crmcore.errors import StorageError
from crmcore.ids import CaseId, CustomerId, InteractionId, LeadId, OpportunityId, TaskId
from crmcore.interactions import Interaction
from crmcore.leads import Lead
from crmcore.merge_record import MergeRecord
from crmcore.opportunities import Opportunity
from crmcore.storage import _audit
from crmcore.storage import _integrity as integrity
from crmcore.storage._common import (
    CUSTOMER_FIELDS,
    LEAD_FIELDS,
    NS_EMAIL,
    NS_IDENTIFIER,
    NS_KEY,
    NS_PHONE,
    Condition,
    FieldSpec,
    customer_row,
    identifier_index_key,
    lead_row,
    lookup_rows,
    matches,
    micros,
    stamped,
    totals_of,
)
from crmcore.storage._front import (
    CASES,
    OPPORTUNITIES,
    TASKS,
    TIMELINE_TAG,
    Errors,
    IdT,
    InteractionsFront,
    ItemKind,
    ItemsFront,
    ListQuery,
    OpportunitiesFront,
    R,
    StoreFront,
    Timeline,
    TypedRecords,
    W,
    WorkItemsFront,
    check_batch_size,
    check_expected_version,
    check_interaction,
    check_load,
    check_record,
    check_record_id,
    external_id_taken,
    get_many_of,
    page_of,
    resolve_chain,
)
from crmcore.storage.keys import KeyFunction, check_key_function
from crmcore.storage.protocols import LoadedRecord, Page, Total
from crmcore.subject_requests import SubjectRequest
from crmcore.tasks import Task
from crmcore.values import EmailAddress, PhoneNumber

__all__ = ["InMemoryStore"]


_INTERACTION: Final = Errors("interaction")
_MERGE: Final = Errors("merge record")


def _third(rows: Iterable[Sequence[Any]]) -> Iterator[Any]:
    # Page rows are (sort value, id, record).
    return (row[2] for row in rows)


class _MultiIndex:
    """key -> ids. One id is kept bare and only collisions get a set: with a million
    records nearly every key has one id, and a set per key would cost ~200 bytes."""

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data: dict[str, str | set[str]] = {}

    def add(self, key: str, record_id: str) -> None:
        current = self._data.get(key)
        if current is None:
            self._data[key] = record_id
        elif isinstance(current, str):
            if current != record_id:
                self._data[key] = {current, record_id}
        else:
            current.add(record_id)

    def discard(self, key: str, record_id: str) -> None:
        current = self._data.get(key)
        if current is None:
            return
        if isinstance(current, str):
            if current == record_id:
                del self._data[key]
            return
        current.discard(record_id)
        if len(current) == 1:
            self._data[key] = next(iter(current))

    def get(self, key: str) -> Iterable[str]:
        current = self._data.get(key)
        if current is None:
            return ()
        if isinstance(current, str):
            return (current,)
        return tuple(current)


class _Undoable(Protocol):
    def _restore(self, record_id: str, record: Any) -> None: ...


Row = TypeVar("Row", bound=Customer | Lead | Interaction | MergeRecord | Opportunity | Task | Case)


class _Rows(Generic[Row]):
    """What every memory repository is: rows by id, read under the store's lock.

    Writes go through :meth:`_put`, which logs the previous row for rollback;
    :meth:`_restore` is what both a write and a rollback do to the dicts.
    """

    _store: InMemoryStore
    _records: dict[str, Row]

    def _restore(self, record_id: str, record: Any) -> None:
        if record is None:
            self._records.pop(record_id, None)
        else:
            self._records[record_id] = record

    def _put(self, record_id: str, record: Row | None) -> None:
        self._store._log(self, record_id, self._records.get(record_id))
        self._restore(record_id, record)

    def _get(self, record_id: object) -> Row | None:
        return self._records.get(record_id) if isinstance(record_id, str) else None

    def _fetch(self, ids: Iterable[str]) -> dict[str, Row]:
        with self._store._read():
            records = self._records
            return {i: records[i] for i in ids if i in records}

    def _delete(
        self, errors: Errors, entity: str, record_id: str, expected_version: int | None
    ) -> None:
        """Compare-and-set delete: ``NotFound`` if absent, ``VersionConflict`` if stale."""
        expected = check_expected_version(expected_version)
        with self._store._write():
            current = errors.found(self._get(record_id))
            errors.check_version(current.version, expected)
            self._put(record_id, None)
            integrity.check_deleted(record_id, self._store._present)
            self._store._report(AuditAction.DELETE, _audit.deleted(entity, record_id))


class _Table(_Rows[Row]):
    """A repository with filters, pages and ``iter_all`` over its ``_row`` columns.

    First among a repository's bases: its reads replace the front's abstract ones.
    """

    _row: Callable[[Row], dict[str, Any]]

    def _matching(self, conditions: Sequence[Condition]) -> Iterator[tuple[dict[str, Any], Row]]:
        # Callers hold the read lock.
        for record in self._records.values():
            row = self._row(record)
            if matches(conditions, row):
                yield row, record

    def _count(self, conditions: Sequence[Condition]) -> int:
        with self._store._read():
            return sum(1 for _ in self._matching(conditions))

    def _list(self, q: ListQuery) -> Page[Row]:
        with self._store._read():
            rows = [(row[q.order_by], r.id, r) for row, r in self._matching(q.conditions)]
        if q.after is not None:
            if q.descending:
                rows = [r for r in rows if (r[0], r[1]) < q.after]
            else:
                rows = [r for r in rows if (r[0], r[1]) > q.after]
        rows.sort(key=lambda r: (r[0], r[1]), reverse=q.descending)
        return page_of(rows[: q.size + 1], q.size, q.tag, _third)

    def iter_all(self, *, batch_size: int = 500) -> Iterator[Row]:
        """Yield every record in id order, reading ``batch_size`` at a time."""
        size = check_batch_size(batch_size)
        # Paging through list() would rebuild and sort every record's row for each
        # batch (quadratic: hours for a million records); sort the ids once instead.
        # Records added meanwhile with higher ids are picked up by the next pass,
        # as keyset pages would; records deleted meanwhile are skipped.
        position: str | None = None
        while True:
            with self._store._read():
                pending = sorted(i for i in self._records if position is None or i > position)
            if not pending:
                return
            for start in range(0, len(pending), size):
                with self._store._read():
                    records = self._records
                    batch = [records[i] for i in pending[start : start + size] if i in records]
                yield from batch
            position = pending[-1]


class _MemoryRecords(_Table[R], TypedRecords[R, IdT]):
    """Customers or leads: a dict of records plus the lookup indexes."""

    def __init__(
        self,
        store: InMemoryStore,
        cls: type[R],
        fields: Mapping[str, FieldSpec],
        row: Callable[[R], dict[str, Any]],
        key_function: KeyFunction,
        entity: str,
    ) -> None:
        super().__init__(cls, entity, fields, row)
        self._store = store
        self._key_function = key_function
        self._records: dict[str, R] = {}
        self._index = {ns: _MultiIndex() for ns in (NS_EMAIL, NS_PHONE, NS_IDENTIFIER, NS_KEY)}

    # ------------------------------------------------------------------ internals

    def _entries(self, record: R) -> Iterator[tuple[str, str]]:
        # Tags are filtered from the rows, not looked up.
        for ns, key, _ in lookup_rows(record, self._key_function):
            yield ns, key

    def _restore(self, record_id: str, record: Any) -> None:
        entries = [] if record is None else list(self._entries(record))
        self._apply(record_id, record, entries)

    def _apply(self, record_id: str, record: R | None, entries: Iterable[tuple[str, str]]) -> None:
        old = self._records.get(record_id)
        if old is not None:
            for ns, key in self._entries(old):
                self._index[ns].discard(key, record_id)
        if record is None:
            self._records.pop(record_id, None)
        else:
            self._records[record_id] = record
            for ns, key in entries:
                self._index[ns].add(key, record_id)

    def _put(self, record_id: str, record: R | None) -> None:
        # Compute the new keys before touching anything: a failing key function
        # must leave the indexes as they were.
        entries = [] if record is None else list(self._entries(record))
        self._store._log(self, record_id, self._records.get(record_id))
        self._apply(record_id, record, entries)

    def _add(self, record: R, now: datetime) -> R:
        if record.id in self._records:
            raise self._errors.duplicate()
        stored = stamped(record, 1, now)
        self._put(stored.id, stored)
        return stored

    def _sorted(self, ids: Iterable[str], limit: int | None = None) -> builtins.list[R]:
        found = sorted(set(ids))
        if limit is not None:
            found = found[:limit]
        return [self._records[i] for i in found]

    # ------------------------------------------------------------------ writes

    def add(self, record: R) -> R:
        """See :meth:`crmcore.storage.RecordRepository.add`."""
        self._check(record)
        with self._store._write():
            stored = self._add(record, utcnow())
            integrity.check_written([stored], self._store._present)
            self._store._report(AuditAction.ADD, _audit.added(self._entity, [stored]))
            return stored

    def add_many(self, records: Iterable[R]) -> builtins.list[R]:
        """See :meth:`crmcore.storage.RecordRepository.add_many`."""
        batch = [
            self._check(r, f"records[{i}]") for i, r in enumerate(items_of(records, "records"))
        ]
        with self._store._write():
            now = utcnow()
            result = [self._add(r, now) for r in batch]
            integrity.check_written(result, self._store._present, batch="records")
            self._store._report(AuditAction.ADD, _audit.added(self._entity, result))
            return result

    def update(self, record: R) -> R:
        """See :meth:`crmcore.storage.RecordRepository.update`."""
        self._check(record)
        with self._store._write():
            current = self._errors.found(self._records.get(record.id))
            self._errors.check_version(current.version, record.version)
            stored = stamped(record, current.version + 1, utcnow())
            self._put(stored.id, stored)
            integrity.check_written([stored], self._store._present, updated=True)
            self._store._report(AuditAction.UPDATE, _audit.updated(self._entity, current, stored))
            return stored

    def delete(self, record_id: str, *, expected_version: int | None = None) -> None:
        """See :meth:`crmcore.storage.RecordRepository.delete`."""
        self._delete(self._errors, self._entity, record_id, expected_version)

    # ------------------------------------------------------------------ reads

    def get(self, record_id: str) -> R:
        """See :meth:`crmcore.storage.RecordRepository.get`."""
        with self._store._read():
            return self._errors.found(self._get(record_id))

    def resolve(self, record_id: str) -> R:
        """See :meth:`crmcore.storage.RecordRepository.resolve`."""
        with self._store._read():
            return resolve_chain(self.get, record_id)

    def get_many(self, record_ids: Iterable[str]) -> dict[IdT, R]:
        """See :meth:`crmcore.storage.RecordRepository.get_many`."""
        return get_many_of(record_ids, "record_ids", self._fetch)

    def _lookup(self, ns: str, key: str) -> builtins.list[R]:
        with self._store._read():
            return self._sorted(self._index[ns].get(key))

    def find_by_email(self, email: EmailAddress | str) -> builtins.list[R]:
        """See :meth:`crmcore.storage.RecordRepository.find_by_email`."""
        return self._lookup(NS_EMAIL, EmailAddress.parse(email, field="email").match_key)

    def find_by_phone(
        self, phone: PhoneNumber | str, region: str | None = None
    ) -> builtins.list[R]:
        """See :meth:`crmcore.storage.RecordRepository.find_by_phone`."""
        return self._lookup(NS_PHONE, PhoneNumber.parse(phone, region, field="phone").e164)

    def find_by_identifier(self, scheme: str, value: str) -> builtins.list[R]:
        """See :meth:`crmcore.storage.RecordRepository.find_by_identifier`."""
        return self._lookup(NS_IDENTIFIER, identifier_index_key(scheme, value))

    def _key_matches(self, wanted: builtins.list[str], size: int | None) -> builtins.list[R]:
        with self._store._read():
            index = self._index[NS_KEY]
            ids = {i for key in wanted for i in index.get(key)}
            return self._sorted(ids, size)


def _threads(interaction: Interaction) -> Iterable[str]:
    # The timelines an interaction is on: its records', and its case's thread.
    if interaction.case_id is None:
        return interaction.record_ids
    return (*interaction.record_ids, interaction.case_id)


class _MemoryInteractions(InteractionsFront, _Rows[Interaction]):
    """Interactions, indexed by participant and by external id."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._records: dict[str, Interaction] = {}
        self._external: dict[str, str] = {}
        self._by_record = _MultiIndex()

    def _restore(self, record_id: str, record: Any) -> None:
        old = self._records.pop(record_id, None)
        if old is not None:
            if old.external_id is not None:
                self._external.pop(old.external_id, None)
            for rid in _threads(old):
                self._by_record.discard(rid, record_id)
        if record is not None:
            self._records[record_id] = record
            if record.external_id is not None:
                self._external[record.external_id] = record_id
            for rid in _threads(record):
                self._by_record.add(rid, record_id)

    def _add(
        self, interaction: Interaction, now: datetime, targets: builtins.list[AuditTarget]
    ) -> Interaction:
        if interaction.external_id is not None:
            existing = self._external.get(interaction.external_id)
            if existing is not None:
                return self._records[existing]  # nothing written: nothing to audit
        if interaction.id in self._records:
            raise _INTERACTION.duplicate()
        stored = stamped(interaction, 1, now)
        self._put(stored.id, stored)
        targets.extend(_audit.added("interaction", [stored]))
        return stored

    def add(self, interaction: Interaction) -> Interaction:
        """See :meth:`crmcore.storage.InteractionRepository.add`."""
        check_interaction(interaction)
        with self._store._write():
            targets: builtins.list[AuditTarget] = []
            stored = self._add(interaction, utcnow(), targets)
            integrity.check_written([stored], self._store._present)
            self._store._report(AuditAction.ADD, targets)
            return stored

    def add_many(self, interactions: Iterable[Interaction]) -> builtins.list[Interaction]:
        """See :meth:`crmcore.storage.InteractionRepository.add_many`."""
        batch = [check_interaction(i) for i in items_of(interactions, "interactions")]
        with self._store._write():
            now = utcnow()
            targets: builtins.list[AuditTarget] = []
            result = [self._add(i, now, targets) for i in batch]
            integrity.check_written(result, self._store._present, batch="interactions")
            self._store._report(AuditAction.ADD, targets)
            return result

    def get(self, interaction_id: str) -> Interaction:
        """See :meth:`crmcore.storage.InteractionRepository.get`."""
        with self._store._read():
            return _INTERACTION.found(self._get(interaction_id))

    def get_many(self, interaction_ids: Iterable[str]) -> dict[InteractionId, Interaction]:
        """See :meth:`crmcore.storage.InteractionRepository.get_many`."""
        return get_many_of(interaction_ids, "interaction_ids", self._fetch)

    def update(self, interaction: Interaction) -> Interaction:
        """See :meth:`crmcore.storage.InteractionRepository.update`."""
        check_interaction(interaction)
        with self._store._write():
            current = _INTERACTION.found(self._records.get(interaction.id))
            _INTERACTION.check_version(current.version, interaction.version)
            ext = interaction.external_id
            if ext is not None and self._external.get(ext, interaction.id) != interaction.id:
                raise external_id_taken()
            stored = stamped(interaction, current.version + 1, utcnow())
            self._put(stored.id, stored)
            integrity.check_written([stored], self._store._present)
            self._store._report(AuditAction.UPDATE, _audit.updated("interaction", current, stored))
            return stored

    def delete(self, interaction_id: str, *, expected_version: int | None = None) -> None:
        """See :meth:`crmcore.storage.InteractionRepository.delete`."""
        self._delete(_INTERACTION, "interaction", interaction_id, expected_version)

    def _timeline(self, record_id: str, q: Timeline) -> Page[Interaction]:
        low, high, chan, after = q.since, q.until, q.channel, q.after
        with self._store._read():
            rows = []
            for i in self._by_record.get(record_id):
                interaction = self._records[i]
                at = micros(interaction.occurred_at)
                if low is not None and at < low:
                    continue
                if high is not None and at >= high:
                    continue
                if chan is not None and interaction.channel is not chan:
                    continue
                if after is not None and (at, i) >= after:
                    continue
                rows.append((at, i, interaction))
        rows.sort(key=lambda r: (r[0], r[1]), reverse=True)
        return page_of(rows, q.size, TIMELINE_TAG, _third)

    def _find_external(self, external_id: str) -> Interaction | None:
        with self._store._read():
            found = self._external.get(external_id)
            return None if found is None else self._records[found]


def _order(records: builtins.list[MergeRecord]) -> builtins.list[MergeRecord]:
    return sorted(records, key=lambda m: (m.merged_at, m.id), reverse=True)


class MemoryMerges(_Rows[MergeRecord]):
    """The merge records of an :class:`~crmcore.storage.InMemoryStore`."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._records: dict[str, MergeRecord] = {}

    def add(self, record: MergeRecord) -> MergeRecord:
        """See :meth:`MergeRepository.add`."""
        check_record(record, MergeRecord)
        with self._store._write():
            if record.id in self._records:
                raise _MERGE.duplicate()
            stored = attrs.evolve(record, version=1)
            self._put(stored.id, stored)
            self._store._report(AuditAction.MERGE, _audit.added("merge", [stored]))
            return stored

    def get(self, merge_id: str) -> MergeRecord:
        """See :meth:`MergeRepository.get`."""
        with self._store._read():
            found = self._records.get(merge_id) if isinstance(merge_id, str) else None
        return _MERGE.found(found)

    def update(self, record: MergeRecord) -> MergeRecord:
        """See :meth:`MergeRepository.update`."""
        check_record(record, MergeRecord)
        with self._store._write():
            current = _MERGE.found(self._records.get(record.id))
            _MERGE.check_version(current.version, record.version)
            stored = attrs.evolve(record, version=current.version + 1)
            self._put(stored.id, stored)
            self._store._report(AuditAction.UPDATE, _audit.updated("merge", current, stored))
            return stored

    def list_for(self, record_id: str) -> builtins.list[MergeRecord]:
        """See :meth:`MergeRepository.list_for`."""
        check_record_id(record_id)
        with self._store._read():
            return _order([m for m in self._records.values() if record_id in m.participant_ids])

    def clear(self) -> None:
        """Forget every record (the store is closing)."""
        self._records.clear()


class _MemoryItems(_Table[W], ItemsFront[W, IdT]):
    """Opportunities, tasks or cases: a dict of items; the front decides every rule."""

    def __init__(self, store: InMemoryStore, kind: ItemKind[W]) -> None:
        super().__init__(kind)
        self._store = store
        self._records: dict[str, W] = {}
        self._row = kind.row

    def _insert(self, batch: builtins.list[W]) -> None:
        with self._store._write():
            for item in batch:
                if item.id in self._records:
                    raise self._errors.duplicate()  # _write undoes the batch's earlier items
                self._put(item.id, item)
            many = "items" if len(batch) > 1 else None
            integrity.check_written(batch, self._store._present, batch=many)
            self._store._report(AuditAction.ADD, _audit.added(self._entity, batch))

    def _change(self, item_id: str, change: Callable[[W | None], W | None]) -> None:
        with self._store._write():
            current = self._records.get(item_id)
            successor = change(current)
            self._put(item_id, successor)
            if successor is None:
                integrity.check_deleted(item_id, self._store._present)
            else:
                integrity.check_written([successor], self._store._present)
            if current is None:
                return
            if successor is None:
                self._store._report(AuditAction.DELETE, _audit.deleted(self._entity, item_id))
            else:
                targets = _audit.updated(self._entity, current, successor)
                self._store._report(AuditAction.UPDATE, targets)


class MemoryAudit(_Rows[Any]):
    """The audit trail of an :class:`~crmcore.storage.InMemoryStore`."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        # No index by record: a million targets would cost ~100 MB of dict for a
        # query that only subject requests make; list(record_id=...) scans instead.
        self._records: dict[str, AuditEntry] = {}

    def _append(self, entry: AuditEntry) -> None:
        # Callers hold the write lock.
        if entry.id in self._records:
            raise _audit.AUDIT.duplicate()
        self._put(entry.id, entry)

    def append(self, entry: AuditEntry) -> AuditEntry:
        """See :meth:`crmcore.storage.AuditRepository.append`."""
        _audit.check_entry(entry)
        with self._store._write():
            self._append(entry)
        return entry

    def get(self, entry_id: str) -> AuditEntry:
        """See :meth:`crmcore.storage.AuditRepository.get`."""
        with self._store._read():
            found: AuditEntry | None = self._get(entry_id)
        return _audit.AUDIT.found(found)

    def list(
        self,
        *,
        record_id: str | None = None,
        action: AuditAction | None = None,
        since: datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[AuditEntry]:
        """See :meth:`crmcore.storage.AuditRepository.list`."""
        q = _audit.check_audit_list(record_id, action, since, limit, cursor)
        with self._store._read():
            chosen = sorted(i for i in self._records if q.after is None or i > q.after)
            entries = []
            for i in chosen:
                entry = self._records[i]
                if q.action is not None and entry.action is not q.action:
                    continue
                if q.record_id is not None and all(t.id != q.record_id for t in entry.targets):
                    continue
                if q.since is not None and micros(entry.at) < q.since:
                    continue
                entries.append(entry)
                if len(entries) > q.size:
                    break
        return _audit.page_by_id(entries, q.size, _audit.AUDIT_TAG)

    def count(self) -> int:
        """See :meth:`crmcore.storage.AuditRepository.count`."""
        with self._store._read():
            return len(self._records)


class MemorySuppressions(_Rows[Any]):
    """The suppression list of an :class:`~crmcore.storage.InMemoryStore`."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._records: dict[str, bool] = {}

    def add(self, digests: Iterable[str]) -> int:
        """See :meth:`crmcore.storage.SuppressionRepository.add`."""
        batch = _audit.check_digests(digests)
        with self._store._write():
            new = [d for d in batch if d not in self._records]
            for digest in new:
                self._put(digest, True)
            return len(new)

    def contains(self, digest: str) -> bool:
        """See :meth:`crmcore.storage.SuppressionRepository.contains`."""
        with self._store._read():
            return isinstance(digest, str) and digest in self._records

    def __contains__(self, digest: object) -> bool:
        return isinstance(digest, str) and self.contains(digest)

    def count(self) -> int:
        """See :meth:`crmcore.storage.SuppressionRepository.count`."""
        with self._store._read():
            return len(self._records)


class MemoryRequests(_Rows[Any]):
    """The subject requests of an :class:`~crmcore.storage.InMemoryStore`."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._records: dict[str, Any] = {}

    def add(self, request: SubjectRequest) -> SubjectRequest:
        """See :meth:`crmcore.storage.RequestRepository.add`."""
        _audit.check_request(request)
        with self._store._write():
            if request.id in self._records:
                raise _audit.REQUEST.duplicate()
            stored = attrs.evolve(request, version=1)
            self._put(stored.id, stored)
            self._store._report(AuditAction.ADD, _audit.added("request", [stored]))
            return stored

    def get(self, request_id: str) -> SubjectRequest:
        """See :meth:`crmcore.storage.RequestRepository.get`."""
        with self._store._read():
            found: SubjectRequest | None = self._get(request_id)
        return _audit.REQUEST.found(found)

    def update(self, request: SubjectRequest) -> SubjectRequest:
        """See :meth:`crmcore.storage.RequestRepository.update`."""
        _audit.check_request(request)
        with self._store._write():
            current: SubjectRequest = _audit.REQUEST.found(self._records.get(request.id))
            _audit.REQUEST.check_version(current.version, request.version)
            stored = attrs.evolve(request, version=current.version + 1)
            self._put(stored.id, stored)
            self._store._report(AuditAction.UPDATE, _audit.updated("request", current, stored))
            return stored

    def list(
        self, *, open_only: bool = False, limit: int = 100, cursor: str | None = None
    ) -> Page[SubjectRequest]:
        """See :meth:`crmcore.storage.RequestRepository.list`."""
        q = _audit.check_request_list(open_only, limit, cursor)
        with self._store._read():
            chosen = [
                r
                for i, r in sorted(self._records.items())
                if (q.after is None or i > q.after) and (not q.open_only or r.is_open)
            ]
        return _audit.page_by_id(chosen, q.size, _audit.REQUEST_TAG)


class _MemoryOpportunities(OpportunitiesFront, _MemoryItems[Opportunity, OpportunityId]):
    """Opportunities, with their totals computed by the reference :func:`totals_of`."""

    def _totals(self, conditions: Sequence[Condition], by: tuple[str, ...]) -> builtins.list[Total]:
        with self._store._read():
            rows = [row for row, _ in self._matching(conditions)]
        return totals_of(rows, by)


class InMemoryStore(
    StoreFront[
        _MemoryRecords[Customer, CustomerId],
        _MemoryRecords[Lead, LeadId],
        _MemoryInteractions,
        MemoryMerges,
    ],
    WorkItemsFront[_MemoryOpportunities, _MemoryItems[Task, TaskId], _MemoryItems[Case, CaseId]],
):
    """A store in this process's memory: the reference semantics, thread-safe.

    Args:
        key_function: computes a record's blocking keys for
            :meth:`~crmcore.storage.RecordRepository.find_by_keys`;
            :func:`~crmcore.storage.default_keys` when ``None``.

    Example:
        >>> from crmcore import Customer
        >>> store = InMemoryStore()
        >>> stored = store.customers.add(Customer.create(name="Ada Lovelace"))
        >>> stored.version
        1
    """

    def __init__(self, *, key_function: KeyFunction | None = None) -> None:
        self._lock = threading.RLock()
        self._undo: list[tuple[_Undoable, str, object]] = []
        self._depth = 0
        self._closed = False
        keys = check_key_function(key_function)
        self._customers: _MemoryRecords[Customer, CustomerId] = _MemoryRecords(
            self, Customer, CUSTOMER_FIELDS, customer_row, keys, "customer"
        )
        self._leads: _MemoryRecords[Lead, LeadId] = _MemoryRecords(
            self, Lead, LEAD_FIELDS, lead_row, keys, "lead"
        )
        self._interactions = _MemoryInteractions(self)
        self._merges = MemoryMerges(self)
        self._opportunities = _MemoryOpportunities(self, OPPORTUNITIES)
        self._tasks: _MemoryItems[Task, TaskId] = _MemoryItems(self, TASKS)
        self._cases: _MemoryItems[Case, CaseId] = _MemoryItems(self, CASES)
        self._audit = MemoryAudit(self)
        self._suppressions = MemorySuppressions(self)
        self._requests = MemoryRequests(self)
        # Created once per store, like a database's: it lives as long as the data does.
        self._secret = os.urandom(_audit.SECRET_BYTES)
        self._tables: dict[type, _Rows[Any]] = {
            Customer: self._customers,
            Lead: self._leads,
            Interaction: self._interactions,
            MergeRecord: self._merges,
            Opportunity: self._opportunities,
            Task: self._tasks,
            Case: self._cases,
        }
        self._probed: dict[str, _Rows[Any]] = {
            "customers": self._customers,
            "leads": self._leads,
            "opportunities": self._opportunities,
            "opportunity_members": self._opportunities,
            "tasks": self._tasks,
            "cases": self._cases,
        }

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("the store is closed")

    @contextmanager
    def _read(self) -> Iterator[None]:
        with self._lock:
            self._check_open()
            yield

    @contextmanager
    def _write(self) -> Iterator[None]:
        with self._lock:
            self._check_open()
            mark = len(self._undo)
            audit_mark = _audit.audit_mark(self)
            self._depth += 1
            try:
                yield
            except BaseException:
                self._rollback_to(mark)
                _audit.rewind(audit_mark)
                raise
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._undo.clear()

    def _report(self, action: AuditAction, targets: Sequence[AuditTarget]) -> None:
        # Callers hold the write lock, inside the write's own undo scope.
        entry = report(self, action, targets)
        if entry is not None:
            self._audit._append(entry)

    def _log(self, table: _Undoable, record_id: str, previous: object) -> None:
        self._undo.append((table, record_id, previous))

    def _rollback_to(self, mark: int) -> None:
        while len(self._undo) > mark:
            table, record_id, previous = self._undo.pop()
            table._restore(record_id, previous)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing: an exception rolls back every write made inside.

        Other threads wait until the transaction ends. Transactions nest (an
        inner one that fails is undone alone if the exception is caught).
        """
        with self._write():
            yield

    def _present(self, probe: integrity.Probe, values: Sequence[str]) -> set[str]:
        # Referential integrity (storage/_integrity.py) asks the dicts; a participant
        # (or a case's thread) is an index lookup, other referrers a scan.
        if probe.table == "participants":
            index = self._interactions._by_record
            return {v for v in values if index.get(v)}
        table = self._probed[probe.table]
        return integrity.scan(probe, table._records, values)

    def load(self, records: Iterable[LoadedRecord]) -> None:
        """Place already-stored copies as they are, keeping their version and timestamps.

        See :meth:`crmcore.storage.SupportsLoad.load`. For restoring exports,
        snapshots, test fixtures and adapters that keep an InMemoryStore as
        their working set (see ``docs/examples/jsonl_store.py``); everything
        else should go through the repositories, which compare-and-set.
        References are not checked (records arrive in any order; see
        ``docs/storage.md``, "Referential integrity").

        Raises:
            ValidationError: for anything but a customer, lead, interaction,
                merge record, opportunity, task or case.
            DuplicateRecord: an interaction would take another one's external id.
        """
        batch = check_load(records)
        with self._write():
            for record in batch:
                if isinstance(record, Interaction):
                    ext = record.external_id
                    if ext is not None and self._interactions._external.get(ext, record.id) != (
                        record.id
                    ):
                        raise external_id_taken()
                self._tables[type(record)]._put(record.id, record)
            self._report(AuditAction.LOAD, _audit.loaded(batch))

    # ------------------------------------------------------------------ privacy

    @property
    def audit(self) -> MemoryAudit:
        """The audit trail (see :class:`~crmcore.storage.SupportsPrivacy`)."""
        return self._audit

    @property
    def suppressions(self) -> MemorySuppressions:
        """The suppression list."""
        return self._suppressions

    @property
    def requests(self) -> MemoryRequests:
        """The subject requests."""
        return self._requests

    def privacy_secret(self) -> bytes:
        """See :meth:`crmcore.storage.SupportsPrivacy.privacy_secret`."""
        with self._read():
            return self._secret

    def forget_merge(self, merge_id: str) -> None:
        """See :meth:`crmcore.storage.SupportsPrivacy.forget_merge`."""
        with self._write():
            _audit.MERGE.found(self._merges._get(merge_id))
            self._merges._put(merge_id, None)
            self._report(AuditAction.DELETE, _audit.deleted("merge", merge_id))

    def compact(self) -> None:
        """Nothing to do: a dict forgets a deleted record at once (see
        :meth:`~crmcore.storage.SupportsPrivacy.compact`)."""
        self._check_open()

    def close(self) -> None:
        """Drop everything; the store refuses further use."""
        with self._lock:
            self._closed = True
            for table in self._tables.values():
                table._records.clear()
            self._audit._records.clear()
            self._suppressions._records.clear()
            self._requests._records.clear()

    def __repr__(self) -> str:
        return "InMemoryStore()"
