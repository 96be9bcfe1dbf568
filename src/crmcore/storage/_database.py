"""What the two database backends (``sqlite/`` and ``sql/``) share above their statements.

Both keep a record as a document row plus lookup rows, reached through a
handle's ``_use()`` (a read) and ``_write()`` (a transaction or savepoint)
connections. They differ only in how they spell a statement, so the method
bodies that merely call those statements live here once; a backend supplies
the hooks (``_insert_batch``, ``_doc_row``, ``_fetch``, ``_lookup_docs``,
``_place``, ...). The work items (opportunities, tasks, cases) share one
repository, :class:`DatabaseItems`: a document, the allow-listed filter
columns, a members table for the set-valued fields, and ``totals`` as one SQL
aggregate of exact integers (``_sums``). Not part of
:mod:`crmcore.storage.front`: a third party's adapter has its own way to reach
its database.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, Generic, Protocol, TypeVar

import attrs

from crmcore._validation import items_of, utcnow
from crmcore.audit import AuditAction, AuditEntry, AuditTarget, report
from crmcore.cases import Case
from crmcore.customers import Customer
from crmcore.ids import CaseId, InteractionId, OpportunityId, TaskId
from crmcore.interactions import Interaction
from crmcore.leads import Lead
from crmcore.merge_record import MergeRecord
from crmcore.opportunities import Opportunity
from crmcore.storage import _audit
from crmcore.storage import _integrity as integrity
from crmcore.storage._common import _EXACT as EXACT
from crmcore.storage._common import (
    CUSTOMER_FIELDS,
    FLAG_EMAIL,
    FLAG_IDENTIFIER,
    FLAG_PHONE,
    IDENTIFIER_SEPARATOR,
    LEAD_FIELDS,
    Condition,
    FieldSpec,
    customer_row,
    decimal_text,
    exact_sum,
    identifier_index_key,
    is_unicode,
    lead_row,
    stamped,
    total_order,
    totals_of,
)
from crmcore.storage._front import (
    CASES,
    OPPORTUNITIES,
    TASKS,
    Errors,
    IdT,
    InteractionsFront,
    ItemKind,
    ItemsFront,
    OpportunitiesFront,
    R,
    StoreFront,
    TypedRecords,
    WorkItemsFront,
    check_expected_version,
    check_interaction,
    check_load,
    get_many_of,
    resolve_chain,
)
from crmcore.storage.keys import email_key, identifier_key, phone_key
from crmcore.storage.protocols import LoadedRecord, Page, Total

# The filterable columns are the SQLite store's: the same allow-lists, the same rows.
from crmcore.storage.sqlite._schema import (
    CASE_COLUMNS,
    CUSTOMER_COLUMNS,
    LEAD_COLUMNS,
    OPPORTUNITY_COLUMNS,
    OPPORTUNITY_TOTALS,
    TASK_COLUMNS,
)
from crmcore.subject_requests import SubjectRequest
from crmcore.tasks import Task
from crmcore.values import EmailAddress, PhoneNumber

T = TypeVar("T", bound=Customer | Lead | Interaction | Opportunity | Task | Case)

ADD_CHUNK: Final = 1_000
"""Records per insert statement in ``add_many`` and per pass when rebuilding keys."""


class Connections(Protocol):
    """The part of a backend's handle the shared bodies use."""

    def _use(self) -> AbstractContextManager[Any]: ...

    def _write(self) -> AbstractContextManager[Any]: ...

    def _present(self, conn: Any, probe: integrity.Probe, values: Sequence[str]) -> set[str]: ...

    def _report(self, conn: Any, action: AuditAction, targets: Sequence[AuditTarget]) -> None: ...


def present(store: Connections, conn: Any) -> integrity.Present:
    """The store's answer to referential-integrity probes, on the write's connection."""
    return lambda probe, values: store._present(conn, probe, values)


def stored_id(errors: Errors, record_id: object) -> str:
    """``record_id`` when it could name a stored row; anything else names nothing (NotFound).

    A list or a lone surrogate must not reach a driver: it would fail there
    with a driver error instead of the ``NotFound`` every store promises.
    """
    if not isinstance(record_id, str) or not is_unicode(record_id):
        raise errors.not_found()
    return record_id


class DocumentRows(Generic[T]):
    """A repository whose rows end in a document: the reads by id every entity shares."""

    _store: Connections
    _audit_entity: str
    """The entity audit targets name (``"customer"``, ``"interaction"``, ...)."""

    def _doc_row(self, conn: Any, row_id: str) -> Sequence[Any] | None:
        """The stored row (document last) of ``row_id``, if any."""
        raise NotImplementedError

    def _decode_rows(self, rows: Iterable[Sequence[Any]]) -> builtins.list[T]:
        """The values of rows whose last column is the document."""
        raise NotImplementedError

    def _fetch(self, ids: builtins.list[str]) -> Mapping[str, T]:
        """The stored values among ``ids``, by id."""
        raise NotImplementedError

    def _by_id(self, rows: Sequence[Sequence[Any]]) -> dict[str, T]:
        """The values of ``(id, ..., doc)`` rows, by id: what ``_fetch`` returns."""
        return {row[0]: value for row, value in zip(rows, self._decode_rows(rows), strict=True)}

    def _rewrite(self, conn: Any, value: T, stored: T) -> None:
        """Replace ``value``'s row by ``stored`` if it is still at ``value.version``."""
        raise NotImplementedError

    def _remove(self, conn: Any, row_id: str, expected: int | None) -> None:
        """Delete ``row_id``'s row (at version ``expected`` unless None) and what hangs on it."""
        raise NotImplementedError

    def _read(self, errors: Errors, row_id: object) -> T:
        """The stored value of ``row_id``; NotFound (from ``errors``) when there is none."""
        wanted = stored_id(errors, row_id)
        with self._store._use() as conn:
            row = self._doc_row(conn, wanted)
        return self._decode_rows([errors.found(row)])[0]

    def _replace(self, value: T) -> T:
        """Compare-and-set a checked ``value``: stored at its next version, or an error."""
        stored = stamped(value, value.version + 1, utcnow())
        with self._store._write() as conn:
            # The stored copy, for the names of the fields the update changes.
            row = self._doc_row(conn, value.id)
            self._rewrite(conn, value, stored)
            integrity.check_written([stored], present(self._store, conn), updated=True)
            if row is not None:
                before = self._decode_rows([row])[0]
                targets = _audit.updated(self._audit_entity, before, stored)
                self._store._report(conn, AuditAction.UPDATE, targets)
        return stored

    def _delete(self, errors: Errors, row_id: object, expected_version: object) -> None:
        """Delete ``row_id`` at ``expected_version`` (any version for None)."""
        expected = check_expected_version(expected_version)
        wanted = stored_id(errors, row_id)
        with self._store._write() as conn:
            self._remove(conn, wanted, expected)
            integrity.check_deleted(wanted, present(self._store, conn))
            targets = _audit.deleted(self._audit_entity, wanted)
            self._store._report(conn, AuditAction.DELETE, targets)


@attrs.frozen
class RecordKind(Generic[R]):
    """What a customer or lead repository needs to know of its entity, besides its tables."""

    cls: type[R]
    entity: str
    fields: Mapping[str, FieldSpec]
    """The allow-list of filterable fields."""
    columns: tuple[str, ...]
    """The indexed columns of the entity's table (``id`` first)."""
    row: Callable[[R], dict[str, Any]]


CUSTOMERS: Final = RecordKind(Customer, "customer", CUSTOMER_FIELDS, CUSTOMER_COLUMNS, customer_row)
LEADS: Final = RecordKind(Lead, "lead", LEAD_FIELDS, LEAD_COLUMNS, lead_row)


class DatabaseRecords(TypedRecords[R, IdT], DocumentRows[R]):
    """The customer or lead repository of a database backend, above its statements."""

    def __init__(self, store: Connections, kind: RecordKind[R]) -> None:
        super().__init__(kind.cls, kind.entity, kind.fields, kind.row)
        self._store = store
        self._columns = kind.columns
        self._audit_entity = kind.entity

    def _insert_batch(self, conn: Any, batch: Sequence[R], now: datetime) -> builtins.list[R]:
        """Insert checked new records stamped version 1 at ``now``; return what was stored."""
        raise NotImplementedError

    def _lookup_docs(self, flag: int, key: str) -> builtins.list[R]:
        """The records with a lookup row for ``key`` of kind ``flag``, by id."""
        raise NotImplementedError

    def add(self, record: R) -> R:
        """See :meth:`crmcore.storage.RecordRepository.add`."""
        self._check(record)
        with self._store._write() as conn:
            stored = self._insert_batch(conn, [record], utcnow())
            integrity.check_written(stored, present(self._store, conn))
            self._store._report(conn, AuditAction.ADD, _audit.added(self._audit_entity, stored))
            return stored[0]

    def add_many(self, records: Iterable[R]) -> builtins.list[R]:
        """See :meth:`crmcore.storage.RecordRepository.add_many`."""
        batch = [
            self._check(r, f"records[{i}]") for i, r in enumerate(items_of(records, "records"))
        ]
        result: builtins.list[R] = []
        with self._store._write() as conn:
            now = utcnow()
            for start in range(0, len(batch), ADD_CHUNK):
                result.extend(self._insert_batch(conn, batch[start : start + ADD_CHUNK], now))
            integrity.check_written(result, present(self._store, conn), batch="records")
            self._store._report(conn, AuditAction.ADD, _audit.added(self._audit_entity, result))
        return result

    def update(self, record: R) -> R:
        """See :meth:`crmcore.storage.RecordRepository.update`."""
        return self._replace(self._check(record))

    def delete(self, record_id: str, *, expected_version: int | None = None) -> None:
        """See :meth:`crmcore.storage.RecordRepository.delete`."""
        self._delete(self._errors, record_id, expected_version)

    def get(self, record_id: str) -> R:
        """See :meth:`crmcore.storage.RecordRepository.get`."""
        return self._read(self._errors, record_id)

    def resolve(self, record_id: str) -> R:
        """See :meth:`crmcore.storage.RecordRepository.resolve`."""
        return resolve_chain(self.get, record_id)

    def get_many(self, record_ids: Iterable[str]) -> dict[IdT, R]:
        """See :meth:`crmcore.storage.RecordRepository.get_many`."""
        return get_many_of(record_ids, "record_ids", self._fetch)

    def find_by_email(self, email: EmailAddress | str) -> builtins.list[R]:
        """See :meth:`crmcore.storage.RecordRepository.find_by_email`."""
        match_key = EmailAddress.parse(email, field="email").match_key
        return self._lookup_docs(FLAG_EMAIL, email_key(match_key))

    def find_by_phone(
        self, phone: PhoneNumber | str, region: str | None = None
    ) -> builtins.list[R]:
        """See :meth:`crmcore.storage.RecordRepository.find_by_phone`."""
        e164 = PhoneNumber.parse(phone, region, field="phone").e164
        return self._lookup_docs(FLAG_PHONE, phone_key(e164))

    def find_by_identifier(self, scheme: str, value: str) -> builtins.list[R]:
        """See :meth:`crmcore.storage.RecordRepository.find_by_identifier`."""
        scheme, _, folded = identifier_index_key(scheme, value).partition(IDENTIFIER_SEPARATOR)
        found = self._lookup_docs(FLAG_IDENTIFIER, identifier_key(scheme, folded))
        # "id:a:b:c" is both (a, b:c) and (a:b, c), and in SQL a long key is a
        # digest: keep the records that really match.
        return [r for r in found if isinstance(r, Customer) and r.identifiers.get(scheme) == folded]

    def _first_of(self, ids: set[str], size: int | None) -> builtins.list[R]:
        """The records of the first ``size`` of ``ids`` (all of them for None), by id."""
        chosen = sorted(ids)
        if size is not None:
            chosen = chosen[:size]
        # Read the documents in one go; a record deleted in between is simply left out.
        return list(self.get_many(chosen).values())


def thread_ids(interaction: Interaction) -> builtins.list[str]:
    """The ids whose timeline holds ``interaction``: its records, and its case (its thread)."""
    ids: builtins.list[str] = list(dict.fromkeys(interaction.record_ids))
    if interaction.case_id is not None:
        ids.append(interaction.case_id)
    return ids


INTERACTION: Final = Errors("interaction")
"""The errors of every interaction repository of a database backend."""


def _written(
    batch: Sequence[Interaction], stored: Sequence[Interaction], now: datetime
) -> builtins.list[AuditTarget]:
    """The targets of the interactions ``add`` wrote: not those it found by external id.

    ``_add`` returns a new copy stamped ``now`` when it wrote, the stored one
    otherwise (stamped at its own add); an id written twice in a batch is one target.
    """
    written = {
        s.id: s for i, s in zip(batch, stored, strict=True) if s.id == i.id and s.updated_at == now
    }
    return _audit.added("interaction", written.values())


class DatabaseInteractions(InteractionsFront, DocumentRows[Interaction]):
    """The interaction repository of a database backend, above its statements."""

    _audit_entity = "interaction"

    def _add(self, conn: Any, interaction: Interaction, now: datetime) -> Interaction:
        """Store a checked new interaction, or return the one holding its external id."""
        raise NotImplementedError

    def _by_external(self, conn: Any, external_id: str) -> Interaction | None:
        """The interaction holding ``external_id``, if any."""
        raise NotImplementedError

    def add(self, interaction: Interaction) -> Interaction:
        """See :meth:`crmcore.storage.InteractionRepository.add`."""
        check_interaction(interaction)
        with self._store._write() as conn:
            now = utcnow()
            stored = self._add(conn, interaction, now)
            integrity.check_written([stored], present(self._store, conn))
            targets = _written([interaction], [stored], now)
            integrity.check_written([stored], present(self._store, conn))
            self._store._report(conn, AuditAction.ADD, targets)
            return stored

    def add_many(self, interactions: Iterable[Interaction]) -> builtins.list[Interaction]:
        """See :meth:`crmcore.storage.InteractionRepository.add_many`."""
        batch = [check_interaction(i) for i in items_of(interactions, "interactions")]
        with self._store._write() as conn:
            now = utcnow()
            result = [self._add(conn, i, now) for i in batch]
            integrity.check_written(result, present(self._store, conn), batch="interactions")
            self._store._report(conn, AuditAction.ADD, _written(batch, result, now))
            return result

    def update(self, interaction: Interaction) -> Interaction:
        """See :meth:`crmcore.storage.InteractionRepository.update`."""
        return self._replace(check_interaction(interaction))

    def delete(self, interaction_id: str, *, expected_version: int | None = None) -> None:
        """See :meth:`crmcore.storage.InteractionRepository.delete`."""
        self._delete(INTERACTION, interaction_id, expected_version)

    def get(self, interaction_id: str) -> Interaction:
        """See :meth:`crmcore.storage.InteractionRepository.get`."""
        return self._read(INTERACTION, interaction_id)

    def get_many(self, interaction_ids: Iterable[str]) -> dict[InteractionId, Interaction]:
        """See :meth:`crmcore.storage.InteractionRepository.get_many`."""
        return get_many_of(interaction_ids, "interaction_ids", self._fetch)

    def _find_external(self, external_id: str) -> Interaction | None:
        with self._store._use() as conn:
            return self._by_external(conn, external_id)


# --------------------------------------------------------------------------- work items

W = TypeVar("W", bound=Opportunity | Task | Case)

AMOUNT_SCALE: Final = 4
"""An amount is also stored as an integer count of ``10**-AMOUNT_SCALE`` (the most minor
units any ISO 4217 currency has), when it is one within 64 bits, for SQL to sum exactly."""
_INT64: Final = 2**63


def amount_columns(amount: Decimal | None) -> dict[str, Any]:
    """The stored forms of an amount: exact text, scaled integer (or None), exponent."""
    if amount is None:
        return {"amount": None, "amount_units": None, "amount_exp": None}
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)  # a Money amount is finite
    units: int | None = None
    if exponent >= -AMOUNT_SCALE:
        scaled = int(amount.scaleb(AMOUNT_SCALE, EXACT))
        units = scaled if -_INT64 <= scaled < _INT64 else None
    return {"amount": decimal_text(amount), "amount_units": units, "amount_exp": exponent}


def totals_columns(row: Mapping[str, Any]) -> dict[str, Any]:
    """The columns ``totals`` groups and sums on (:data:`OPPORTUNITY_TOTALS`), from a row."""
    return {
        "probability": decimal_text(row["probability"]),
        "close_month": row["close_month"],
        **amount_columns(row["amount"]),
    }


@attrs.frozen
class ItemTable(Generic[W]):
    """How a database backend stores one kind of work item: its columns, besides the kind."""

    kind: ItemKind[W]
    columns: tuple[str, ...]
    """The scalar filter columns of the item's table (``id`` first)."""
    members: tuple[str, ...]
    """The set-valued filter fields (``CONTAINS``), stored as rows of a members table."""
    totals: bool = False
    """Whether the table has the totals columns (:data:`OPPORTUNITY_TOTALS`)."""

    def stored_columns(self) -> tuple[str, ...]:
        """Every column of the item's table but ``version`` and ``doc``, in insert order."""
        return (*self.columns, *(OPPORTUNITY_TOTALS if self.totals else ()))

    def rows(self, item: W) -> tuple[builtins.list[Any], builtins.list[tuple[str, str, str]]]:
        """The values of :meth:`stored_columns` for ``item``, and its members table rows
        (``(field, value, item_id)``): both from one filter row, which is what costs."""
        row = self.kind.row(item)
        values = [row[c] for c in self.columns]
        if self.totals:
            values.extend(totals_columns(row).values())
        item_id: str = item.id
        members = [(f, value, item_id) for f in self.members for value in sorted(row[f])]
        return values, members


OPPORTUNITY_TABLE: Final = ItemTable(
    OPPORTUNITIES, OPPORTUNITY_COLUMNS, ("contact_ids", "tags"), totals=True
)
TASK_TABLE: Final = ItemTable(TASKS, TASK_COLUMNS, ("tags",))
CASE_TABLE: Final = ItemTable(CASES, CASE_COLUMNS, ("tags",))


class SumOverflow(Exception):
    """The database's integer sum of the scaled amounts left 64 bits (SQLite)."""


SumRow = Sequence[Any]
"""A row of ``_sums``: the ``by`` values, currency, count, sum of ``amount_units`` (an
int, or None), how many amounts have no ``amount_units``, the least ``amount_exp``."""
AmountRow = Sequence[Any]
"""A row of ``_amounts``: the ``by`` values, currency, amount text (or None)."""


class DatabaseItems(ItemsFront[W, IdT], DocumentRows[W]):
    """An opportunity, task or case repository of a database backend, above its statements.

    :class:`~crmcore.storage._front.ItemsFront` decides every check and error
    from the stored copy; this runs its steps in one transaction of the
    backend's (``_insert_batch``, ``_doc_row``, ``_rewrite``, ``_remove``).
    """

    def __init__(self, store: Connections, table: ItemTable[W]) -> None:
        super().__init__(table.kind)
        self._store = store
        self._layout = table
        self._audit_entity = table.kind.noun

    def _insert_batch(self, conn: Any, batch: Sequence[W]) -> None:
        """Insert checked new items (already stamped); ``duplicate()`` on a stored id."""
        raise NotImplementedError

    def _place(self, conn: Any, item: W) -> None:
        """Store ``item`` as it is (version and timestamps kept), replacing its id's row."""
        raise NotImplementedError

    def _sums(self, conditions: Sequence[Condition], by: tuple[str, ...]) -> builtins.list[SumRow]:
        """One aggregate per group of ``by`` and currency (may raise :class:`SumOverflow`)."""
        raise NotImplementedError

    def _amounts(
        self, conditions: Sequence[Condition], by: tuple[str, ...], unscaled: bool
    ) -> Iterable[AmountRow]:
        """The amounts of the items meeting ``conditions`` with their group and currency
        (only the amounts without ``amount_units`` when ``unscaled``)."""
        raise NotImplementedError

    def _insert(self, batch: builtins.list[W]) -> None:
        with self._store._write() as conn:
            for start in range(0, len(batch), ADD_CHUNK):
                self._insert_batch(conn, batch[start : start + ADD_CHUNK])
            many = "items" if len(batch) > 1 else None
            integrity.check_written(batch, present(self._store, conn), batch=many)
            self._store._report(conn, AuditAction.ADD, _audit.added(self._audit_entity, batch))

    def _change(self, item_id: str, change: Callable[[W | None], W | None]) -> None:
        with self._store._write() as conn:
            row = self._doc_row(conn, item_id)
            current = None if row is None else self._decode_rows([row])[0]
            successor = change(current)
            if current is None:
                return
            # Compare-and-set on the version read: a writer in between (on a server
            # database, where this read takes no lock) makes it a VersionConflict.
            if successor is None:
                self._remove(conn, item_id, current.version)
                integrity.check_deleted(item_id, present(self._store, conn))
                targets = _audit.deleted(self._audit_entity, item_id)
                self._store._report(conn, AuditAction.DELETE, targets)
            else:
                self._rewrite(conn, current, successor)
                integrity.check_written([successor], present(self._store, conn))
                targets = _audit.updated(self._audit_entity, current, successor)
                self._store._report(conn, AuditAction.UPDATE, targets)

    def _totals(self, conditions: Sequence[Condition], by: tuple[str, ...]) -> builtins.list[Total]:
        """One SQL aggregate of the amounts' scaled integers; the few amounts without
        one, or every amount when SQLite's integer sum overflows, summed here exactly."""
        try:
            rows = self._sums(conditions, by)
        except SumOverflow:
            return totals_of(self._amount_rows(self._amounts(conditions, by, False), by), by)
        rest: dict[tuple[Any, ...], builtins.list[Decimal]] = {}
        if any(row[-2] for row in rows):
            for *key, text in self._amounts(conditions, by, True):
                rest.setdefault(tuple(key), []).append(Decimal(text))
        result = []
        for *group, currency, count, units, _, least in rows:
            amount = Decimal(0)
            if currency is not None:
                scaled = Decimal(units or 0).scaleb(-AMOUNT_SCALE, EXACT)
                amount = exact_sum([scaled, *rest.get((*group, currency), [])])
                # A Decimal sum has the most places of its terms and of the 0 it starts
                # from (1.50 + 2 is 3.50, 1E+3 + 2E+3 is 3000): least is their exponent.
                amount = amount.quantize(Decimal(1).scaleb(min(0, least)), context=EXACT)
            result.append(Total(tuple(group), currency, int(count), amount))
        return sorted(result, key=total_order)

    @staticmethod
    def _amount_rows(rows: Iterable[AmountRow], by: tuple[str, ...]) -> Iterator[dict[str, Any]]:
        """``_amounts`` rows as the opportunity rows :func:`totals_of` reads."""
        for *group, currency, text in rows:
            row: dict[str, Any] = dict(zip(by, group, strict=True))
            if "probability" in row and row["probability"] is not None:
                row["probability"] = Decimal(row["probability"])
            row["currency"] = currency
            row["amount"] = None if text is None else Decimal(text)
            yield row


class DatabaseOpportunities(DatabaseItems[Opportunity, OpportunityId], OpportunitiesFront):
    """The opportunity repository of a database backend: :class:`DatabaseItems` with ``totals``."""


class Places(Protocol):
    """A repository that can store a copy as it is (``load``)."""

    def _place(self, conn: Any, record: Any) -> None: ...


PC = TypeVar("PC", bound=Places)
PL = TypeVar("PL", bound=Places)
PI = TypeVar("PI", bound=Places)
PM = TypeVar("PM", bound=Places)


class DatabaseStore(
    StoreFront[PC, PL, PI, PM],
    WorkItemsFront[DatabaseOpportunities, DatabaseItems[Task, TaskId], DatabaseItems[Case, CaseId]],
    Generic[PC, PL, PI, PM],
):
    """A database backend's store: ``load`` through each repository's ``_place``."""

    def _write(self) -> AbstractContextManager[Any]:
        """A write: a transaction of its own, or a savepoint inside the one that is open."""
        raise NotImplementedError

    def _present(self, conn: Any, probe: integrity.Probe, values: Sequence[str]) -> set[str]:
        """Which of ``values`` the probed column holds (referential integrity), on ``conn``."""
        raise NotImplementedError

    def _append_entry(self, conn: Any, entry: AuditEntry) -> None:
        """Insert an audit entry (one row, and one index row per record it names)."""
        raise NotImplementedError

    def _report(self, conn: Any, action: AuditAction, targets: Sequence[AuditTarget]) -> None:
        """What every write path calls in its transaction: see :func:`crmcore.audit.report`."""
        entry = report(self, action, targets)
        if entry is not None:
            self._append_entry(conn, entry)

    def load(self, records: Iterable[LoadedRecord]) -> None:
        """Place already-stored copies as they are, in one transaction.

        See :meth:`crmcore.storage.SupportsLoad.load`: ids, versions and
        timestamps are kept, a stored id is replaced; for restoring exports
        (:func:`crmcore.io.restore`), snapshots and fixtures. References are
        not checked (records arrive in any order: ``docs/storage.md``,
        "Referential integrity").
        """
        batch = check_load(records)
        with self._write() as conn:
            for record in batch:
                if isinstance(record, Customer):
                    self._customers._place(conn, record)
                elif isinstance(record, Lead):
                    self._leads._place(conn, record)
                elif isinstance(record, MergeRecord):
                    self._merges._place(conn, record)
                elif isinstance(record, Opportunity):
                    self._opportunities._place(conn, record)
                elif isinstance(record, Task):
                    self._tasks._place(conn, record)
                elif isinstance(record, Case):
                    self._cases._place(conn, record)
                else:
                    self._interactions._place(conn, record)
            self._report(conn, AuditAction.LOAD, _audit.loaded(batch))


# --------------------------------------------------------------------------- privacy


class DatabaseAudit:
    """The audit trail (``AuditRepository``): the checks and the page here, the statements
    (``_insert``, ``_entry_row``, ``_entry_rows``, ``_count``) in the backend."""

    _store: Connections

    def _insert(self, conn: Any, entry: AuditEntry) -> None:
        """Insert ``entry`` and its index rows (a taken id: ``AUDIT.duplicate()``)."""
        raise NotImplementedError

    def _entry_row(self, conn: Any, entry_id: str) -> Sequence[Any] | None:
        """The row of ``entry_id`` in :func:`~crmcore.storage._audit.entry_row`'s order."""
        raise NotImplementedError

    def _entry_rows(self, conn: Any, q: _audit.AuditQuery) -> Iterable[Sequence[Any]]:
        """Up to ``q.size + 1`` rows that match ``q``, in id order."""
        raise NotImplementedError

    def _count(self, conn: Any) -> int:
        raise NotImplementedError

    def append(self, entry: AuditEntry) -> AuditEntry:
        """See :meth:`crmcore.storage.AuditRepository.append`."""
        _audit.check_entry(entry)
        with self._store._write() as conn:
            self._insert(conn, entry)
        return entry

    def get(self, entry_id: str) -> AuditEntry:
        """See :meth:`crmcore.storage.AuditRepository.get`."""
        if not _audit.is_digest(entry_id):  # printable ASCII: anything else names nothing
            raise _audit.AUDIT.not_found()
        with self._store._use() as conn:
            row = self._entry_row(conn, entry_id)
        return _audit.decode_entry(_audit.AUDIT.found(row))

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
        with self._store._use() as conn:
            rows = builtins.list(self._entry_rows(conn, q))
        entries = [_audit.decode_entry(row) for row in rows]
        return _audit.page_by_id(entries, q.size, _audit.AUDIT_TAG)

    def count(self) -> int:
        """See :meth:`crmcore.storage.AuditRepository.count`."""
        with self._store._use() as conn:
            return self._count(conn)


class DatabaseSuppressions:
    """The suppression list (``SuppressionRepository``); ``add``, ``_has`` and ``_count``
    are the backend's."""

    _store: Connections

    def _has(self, conn: Any, digest: str) -> bool:
        raise NotImplementedError

    def _count(self, conn: Any) -> int:
        raise NotImplementedError

    def contains(self, digest: str) -> bool:
        """See :meth:`crmcore.storage.SuppressionRepository.contains`."""
        if not _audit.is_digest(digest):
            return False
        with self._store._use() as conn:
            return self._has(conn, digest)

    def __contains__(self, digest: object) -> bool:
        return isinstance(digest, str) and self.contains(digest)

    def count(self) -> int:
        """See :meth:`crmcore.storage.SuppressionRepository.count`."""
        with self._store._use() as conn:
            return self._count(conn)


class DatabaseRequests:
    """The subject requests (``RequestRepository``): versions, checks, reports and pages
    here, the statements (``_insert``, ``_doc``, ``_rewrite``, ``_docs``) in the backend."""

    _store: Connections

    def _insert(self, conn: Any, request: SubjectRequest) -> None:
        """Insert ``request`` (a taken id: ``REQUEST.duplicate()``)."""
        raise NotImplementedError

    def _doc(self, conn: Any, request_id: str) -> str | None:
        """The document of ``request_id``, if one is stored."""
        raise NotImplementedError

    def _rewrite(self, conn: Any, current: SubjectRequest, stored: SubjectRequest) -> None:
        """Replace the row of ``current`` with ``stored`` (a writer in between: a conflict)."""
        raise NotImplementedError

    def _docs(self, conn: Any, q: _audit.RequestQuery) -> builtins.list[str]:
        """The documents of up to ``q.size + 1`` requests that match ``q``, in id order."""
        raise NotImplementedError

    def _read(self, conn: Any, request_id: object) -> SubjectRequest | None:
        if not _audit.is_digest(request_id):
            return None
        doc = self._doc(conn, request_id)
        return None if doc is None else _audit.decode_request(doc)

    def add(self, request: SubjectRequest) -> SubjectRequest:
        """See :meth:`crmcore.storage.RequestRepository.add`."""
        _audit.check_request(request)
        stored = attrs.evolve(request, version=1)
        with self._store._write() as conn:
            self._insert(conn, stored)
            self._store._report(conn, AuditAction.ADD, _audit.added("request", [stored]))
        return stored

    def get(self, request_id: str) -> SubjectRequest:
        """See :meth:`crmcore.storage.RequestRepository.get`."""
        with self._store._use() as conn:
            return _audit.REQUEST.found(self._read(conn, request_id))

    def update(self, request: SubjectRequest) -> SubjectRequest:
        """See :meth:`crmcore.storage.RequestRepository.update`."""
        _audit.check_request(request)
        with self._store._write() as conn:
            current = _audit.REQUEST.found(self._read(conn, request.id))
            _audit.REQUEST.check_version(current.version, request.version)
            stored = attrs.evolve(request, version=current.version + 1)
            self._rewrite(conn, current, stored)
            targets = _audit.updated("request", current, stored)
            self._store._report(conn, AuditAction.UPDATE, targets)
        return stored

    def list(
        self, *, open_only: bool = False, limit: int = 100, cursor: str | None = None
    ) -> Page[SubjectRequest]:
        """See :meth:`crmcore.storage.RequestRepository.list`."""
        q = _audit.check_request_list(open_only, limit, cursor)
        with self._store._use() as conn:
            docs = self._docs(conn, q)
        found = [_audit.decode_request(doc) for doc in docs]
        return _audit.page_by_id(found, q.size, _audit.REQUEST_TAG)
