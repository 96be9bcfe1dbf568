"""The storage contracts: small protocols any backend can implement.

A :class:`Store` holds three repositories (customers, leads, interactions) and
a :meth:`Store.transaction` context manager; a store that
:class:`SupportsWorkItems` holds three more, for the work a business does with
its people (opportunities, tasks and support cases). Queries are built from typed
:class:`Filter` objects (never strings of SQL), over an allow-list of fields per
entity, and paginated with opaque cursors (:class:`Page`).

The reference semantics are :class:`crmcore.storage.InMemoryStore`'s; the
contract kit (:class:`crmcore.testing.StorageContract`) checks an adapter
against them.
"""

from __future__ import annotations

import builtins
import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Final, Generic, Protocol, Self, TypeVar, runtime_checkable

import attrs

from crmcore.audit import AuditAction, AuditEntry
from crmcore.cases import Case
from crmcore.customers import Customer
from crmcore.ids import CaseId, CustomerId, InteractionId, LeadId, OpportunityId, TaskId
from crmcore.interactions import Channel, Interaction
from crmcore.leads import Lead
from crmcore.merge_record import MergeRecord
from crmcore.opportunities import Opportunity
from crmcore.subject_requests import SubjectRequest
from crmcore.tasks import Task
from crmcore.values import EmailAddress, PhoneNumber

__all__ = [
    "TOTALS_BY",
    "AuditRepository",
    "CaseRepository",
    "CustomerRepository",
    "Field",
    "Filter",
    "InteractionRepository",
    "ItemRepository",
    "LeadRepository",
    "LoadedRecord",
    "MergeRepository",
    "MergingStore",
    "Op",
    "OpportunityRepository",
    "Page",
    "PrivateStore",
    "RecordRepository",
    "RequestRepository",
    "Store",
    "SupportsKeyLocks",
    "SupportsLoad",
    "SupportsMerges",
    "SupportsPrivacy",
    "SupportsWorkItems",
    "SuppressionRepository",
    "TaskRepository",
    "Total",
    "WorkStore",
    "where",
]

T = TypeVar("T")
R = TypeVar("R")
W = TypeVar("W")
IdT = TypeVar("IdT", bound=str)

DEFAULT_PAGE_SIZE = 100
"""The page size of ``list()`` when no ``limit`` is given."""


class Op(enum.Enum):
    """A filter operator."""

    EQ = "eq"
    """Equal to the value; ``None`` matches an empty (null) field."""
    IN = "in"
    """Equal to one of the values (a non-empty or empty collection; ``None`` not allowed)."""
    CONTAINS = "contains"
    """A collection field (``tags``) holds the value."""
    RANGE = "range"
    """``low <= field < high``; either bound may be ``None`` (open). Null fields never match."""
    PREFIX = "prefix"
    """A text field starts with the value (case-sensitive). Null fields never match."""


@attrs.frozen
class Filter:
    """One condition of a query: ``field`` ``op`` ``value``.

    Build filters with :func:`where` (``where("stage").eq(LifecycleStage.LEAD)``).
    Which fields and operators a repository accepts is listed in
    ``docs/storage.md``; anything else raises :class:`~crmcore.ValidationError`
    naming ``filters[i]``.
    """

    field: str
    op: Op
    value: object = attrs.field(repr=False)


@attrs.frozen
class Field:
    """A field name waiting for its operator: what :func:`where` returns."""

    name: str

    def eq(self, value: object) -> Filter:
        """Match records whose field equals ``value`` (``None``: the field is empty)."""
        return Filter(self.name, Op.EQ, value)

    def in_(self, values: Iterable[object]) -> Filter:
        """Match records whose field equals any of ``values``."""
        # A string is iterable, but in_("bob") means a mistake, not ("b", "o", "b");
        # anything but a real collection is left for the store to refuse by name.
        if isinstance(values, Iterable) and not isinstance(values, str | bytes | Mapping):
            return Filter(self.name, Op.IN, tuple(values))
        return Filter(self.name, Op.IN, values)

    def contains(self, value: object) -> Filter:
        """Match records whose collection field (``tags``) holds ``value``."""
        return Filter(self.name, Op.CONTAINS, value)

    def range(self, low: object = None, high: object = None) -> Filter:
        """Match ``low <= field < high``; leave a bound ``None`` to keep that side open."""
        return Filter(self.name, Op.RANGE, (low, high))

    def prefix(self, text: str) -> Filter:
        """Match records whose text field starts with ``text`` (case-sensitive)."""
        return Filter(self.name, Op.PREFIX, text)


def where(field: str) -> Field:
    """Start a filter on ``field``: ``where("tags").contains("vip")``."""
    return Field(field)


@attrs.frozen
class Page(Generic[T]):
    """One page of results and the cursor of the next page.

    ``next_cursor`` is ``None`` on the last page; otherwise pass it back as
    ``cursor=`` with the same filters and ordering to read on. Iterating a
    page iterates its items.
    """

    items: tuple[T, ...]
    next_cursor: str | None = None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def has_more(self) -> bool:
        """Whether another page follows."""
        return self.next_cursor is not None


class ItemRepository(Protocol[W, IdT]):
    """What every repository of records with a version shares: customers, leads,
    opportunities, tasks and cases (the *items*).

    Every write is compare-and-set on ``version``: ``add`` stores version 1,
    ``update`` needs the stored version and stores version + 1; both set
    ``updated_at`` and return the stored copy. Batches are all or none, pages
    are keyset-paginated, filters are typed and allow-listed (see
    ``docs/storage.md``). Errors are crmcore errors only.
    """

    def add(self, item: W) -> W:
        """Store a new item; an id already stored raises :class:`~crmcore.DuplicateRecord`."""
        ...

    def add_many(self, items: Iterable[W]) -> builtins.list[W]:
        """Store many new items, all or none; return the stored copies in order."""
        ...

    def get(self, item_id: str) -> W:
        """Return the stored item or raise :class:`~crmcore.NotFound`.

        Like every repository method, it takes ids as plain ``str`` (an id
        from a URL needs no cast; check it with :func:`crmcore.ids.parse_customer_id` and friends
        first if it must be well formed) and returns them typed.
        """
        ...

    def get_many(self, item_ids: Iterable[str]) -> dict[IdT, W]:
        """Return the stored items among ``item_ids``, keyed by id, in the order asked.

        Ids not stored are left out (no error); repeated ids appear once.
        """
        ...

    def update(self, item: W) -> W:
        """Replace the stored item if its version is ``item.version``.

        A history (an opportunity's ``stage_history``, a case's ``history``)
        is append-only: a copy whose history does not start with the stored
        one is refused with a :class:`~crmcore.ValidationError` naming it.

        Raises:
            VersionConflict: the stored version differs (the copy is stale).
            NotFound: nothing is stored under the id.
            ValidationError: the copy rewrites its stored history.
        """
        ...

    def delete(self, item_id: str, *, expected_version: int | None = None) -> None:
        """Delete an item (``NotFound`` if absent; ``VersionConflict`` if the version differs)."""
        ...

    def count(self, *filters: Filter) -> int:
        """Count the items matching every filter."""
        ...

    def list(
        self,
        *filters: Filter,
        order_by: str = "id",
        descending: bool = False,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[W]:
        """Return one page of the items matching every filter.

        ``order_by`` is ``"id"``, ``"created_at"`` or ``"updated_at"``; ties
        are broken by id. Pages are keyset-paginated: reading every page
        returns every item stored throughout exactly once, however many
        items other writers add meanwhile.
        """
        ...

    def iter_all(self, *, batch_size: int = 500) -> Iterator[W]:
        """Yield every item in id order, reading ``batch_size`` at a time."""
        ...


class RecordRepository(ItemRepository[R, IdT], Protocol):
    """What customer and lead repositories share: an :class:`ItemRepository`, plus
    ``resolve`` (merged-away ids) and the lookups by contact point and blocking key."""

    def resolve(self, record_id: str) -> R:
        """The live record ``record_id`` stands for: itself, or the survivor it was merged into.

        Follows ``merged_into`` through chains of merges (A into B, B into C:
        A resolves to C). Raises :class:`~crmcore.NotFound` when the id (or a
        record on the chain) is not stored.
        """
        ...

    def find_by_email(self, email: EmailAddress | str) -> builtins.list[R]:
        """The records with this address (compared by match key), in id order."""
        ...

    def find_by_phone(
        self, phone: PhoneNumber | str, region: str | None = None
    ) -> builtins.list[R]:
        """The records with this number (compared in E.164, extension ignored), in id order."""
        ...

    def find_by_identifier(self, scheme: str, value: str) -> builtins.list[R]:
        """The records whose identifier under ``scheme`` is exactly ``value``, in id order."""
        ...

    def find_by_keys(self, keys: Iterable[str], *, limit: int | None = None) -> builtins.list[R]:
        """The distinct records sharing at least one blocking key with ``keys``, in id order.

        A record's keys are what the store's ``key_function`` returned when
        the record was last written (see :func:`crmcore.storage.default_keys`).
        """
        ...


class CustomerRepository(RecordRepository[Customer, CustomerId], Protocol):
    """The customers of a store."""


class LeadRepository(RecordRepository[Lead, LeadId], Protocol):
    """The leads of a store (leads carry no identifiers: ``find_by_identifier`` finds none)."""


TOTALS_BY: Final = ("pipeline_id", "stage_id", "status", "owner", "probability", "close_month")
"""What :meth:`OpportunityRepository.totals` can group by."""


@attrs.frozen
class Total:
    """One group of :meth:`OpportunityRepository.totals`: a count and an exact sum.

    Amounts are summed per currency, never across currencies: one group of
    ``by`` values yields one :class:`Total` per currency among its deals.
    """

    group: tuple[str | None, ...]
    """The values of ``by``, in order, as text: enum values, a probability as a
    decimal string (``"0.25"``), a close month as ``"YYYY-MM"``; ``None`` for an
    empty field."""
    currency: str | None
    """The currency of the amounts summed; ``None`` for the deals without an amount."""
    count: int
    """How many opportunities the group holds in this currency."""
    amount: Decimal
    """The exact sum of their amounts (``Decimal("0")`` when ``currency`` is ``None``)."""


class OpportunityRepository(ItemRepository[Opportunity, OpportunityId], Protocol):
    """The opportunities (deals) of a store."""

    def totals(self, *filters: Filter, by: Sequence[str] = ()) -> builtins.list[Total]:
        """Count and sum the matching opportunities per group of ``by`` and per currency.

        ``by`` names fields of :data:`TOTALS_BY` (``"stage_id"``,
        ``"close_month"``, ...), each at most once. The result is sorted by
        ``(group, currency)``, ``None`` before any text; groups without a
        matching opportunity are absent.

        Raises:
            ValidationError: naming ``by`` for a field it cannot group by, or
                ``filters[i]`` for a filter outside the allow-list.
        """
        ...


class TaskRepository(ItemRepository[Task, TaskId], Protocol):
    """The tasks (planned follow-ups) of a store."""


class CaseRepository(ItemRepository[Case, CaseId], Protocol):
    """The support cases of a store."""


class InteractionRepository(Protocol):
    """The interactions of a store: the timeline of every customer and lead."""

    def add(self, interaction: Interaction) -> Interaction:
        """Store an interaction (version 1) and return the stored copy.

        When another interaction already has the same ``external_id``, that
        one is returned and nothing is written: ingesting twice is harmless.
        An id already stored raises :class:`~crmcore.DuplicateRecord`.
        """
        ...

    def add_many(self, interactions: Iterable[Interaction]) -> builtins.list[Interaction]:
        """Store many interactions, all or none, with ``add``'s external-id rule."""
        ...

    def get(self, interaction_id: str) -> Interaction:
        """Return the stored interaction or raise :class:`~crmcore.NotFound`."""
        ...

    def get_many(self, interaction_ids: Iterable[str]) -> dict[InteractionId, Interaction]:
        """Return the stored interactions among the ids, keyed by id, in the order asked."""
        ...

    def update(self, interaction: Interaction) -> Interaction:
        """Compare-and-set replace (used to repoint participants after a merge)."""
        ...

    def delete(self, interaction_id: str, *, expected_version: int | None = None) -> None:
        """Delete an interaction (``NotFound`` if absent)."""
        ...

    def list_for(
        self,
        record_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        channel: Channel | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Interaction]:
        """The timeline of a customer or lead, or the thread of a support case, newest first.

        For a case id (``cas_...``), the interactions whose ``case_id`` is
        that case. ``since`` is inclusive and ``until`` exclusive (on ``occurred_at``);
        ``limit=None`` returns every remaining interaction in one page.
        """
        ...

    def find_by_external_id(self, external_id: str) -> Interaction | None:
        """The interaction with this provider id, if any."""
        ...


class MergeRepository(Protocol):
    """The merge records of a store: the audit trail that :func:`crmcore.unmerge` reads."""

    def add(self, record: MergeRecord) -> MergeRecord:
        """Store a merge record (version 1); an id already stored raises ``DuplicateRecord``."""
        ...

    def get(self, merge_id: str) -> MergeRecord:
        """The merge record with this id, or :class:`~crmcore.NotFound`."""
        ...

    def update(self, record: MergeRecord) -> MergeRecord:
        """Compare-and-set replace (an unmerge marks the record undone)."""
        ...

    def list_for(self, record_id: str) -> builtins.list[MergeRecord]:
        """Every merge ``record_id`` took part in (as survivor or merged), newest first."""
        ...


@runtime_checkable
class Store(Protocol):
    """A place to keep customers, leads and interactions.

    Use it as a context manager (``with open_store(url) as store:``) or call
    :meth:`close`. Everything inside :meth:`transaction` is all-or-nothing.
    """

    @property
    def customers(self) -> CustomerRepository:
        """The customers."""
        ...

    @property
    def leads(self) -> LeadRepository:
        """The leads."""
        ...

    @property
    def interactions(self) -> InteractionRepository:
        """The interactions."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """Group writes: all of them happen, or (on an exception) none.

        Transactions nest: an inner block that fails is rolled back alone
        (a savepoint) when its exception is caught inside the outer block.
        """
        ...

    def close(self) -> None:
        """Release the store's resources; the store is unusable afterwards."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class SupportsMerges(Protocol):
    """A store that keeps merge records: what :func:`crmcore.merge` and
    :func:`crmcore.unmerge` need besides :class:`Store`.

    A store that does not keep them is still a :class:`Store`; the contract
    kit's ``supports_merges = False`` flag says so to the kit.
    """

    @property
    def merges(self) -> MergeRepository:
        """The merge records (see :mod:`crmcore.merge`)."""
        ...


@runtime_checkable
class MergingStore(Store, SupportsMerges, Protocol):
    """A :class:`Store` that :class:`SupportsMerges`: the type merges, unmerges and
    the timeline ask for."""


@runtime_checkable
class SupportsKeyLocks(Protocol):
    """A store whose transactions do not serialise writers on their own.

    A duplicate check and the write it guards are one step only when no other
    writer can store the same person in between. :class:`InMemoryStore` and
    :class:`~crmcore.storage.SQLiteStore` get that from their transactions
    (one writer at a time, ``BEGIN IMMEDIATE`` for SQLite, across processes
    too), so they do not implement this. A store on a server database, where
    many writers run at once, does: the checked write paths call
    :meth:`lock_keys` inside the transaction, before the check.
    """

    def lock_keys(self, keys: Iterable[str]) -> None:
        """Hold an exclusive lock on each of ``keys`` until the current transaction ends.

        Called inside :meth:`Store.transaction`, with the candidate's match keys
        (:func:`crmcore.dedup.selective_keys`). Two transactions locking a
        common key run one after the other; locks are taken in sorted order so
        that they cannot deadlock. Keys are opaque strings; a store may hash them.
        """
        ...


@runtime_checkable
class SupportsWorkItems(Protocol):
    """A store that keeps opportunities, tasks and support cases, besides :class:`Store`.

    All three built-in stores implement it. A store that does not is still a
    :class:`Store`; the contract kit's ``supports_work_items = False`` flag
    says so to the kit.
    """

    @property
    def opportunities(self) -> OpportunityRepository:
        """The opportunities (the sales pipeline)."""
        ...

    @property
    def tasks(self) -> TaskRepository:
        """The tasks (planned follow-ups)."""
        ...

    @property
    def cases(self) -> CaseRepository:
        """The support cases."""
        ...


@runtime_checkable
class WorkStore(Store, SupportsWorkItems, Protocol):
    """A :class:`Store` that :class:`SupportsWorkItems`: what the pipeline, agenda and
    support services take."""


LoadedRecord = Customer | Lead | Interaction | MergeRecord | Opportunity | Task | Case
"""What :meth:`SupportsLoad.load` places: any record a store keeps."""


@runtime_checkable
class SupportsLoad(Protocol):
    """A store that takes already-stored copies as they are: what
    :func:`crmcore.io.restore` needs to bring an export back.

    Both built-in stores implement it. A store on the shared front checks the
    batch with :func:`crmcore.storage.front.check_load` and then places each
    record; the contract kit checks it whenever a store has ``load``.
    """

    def load(self, records: Iterable[LoadedRecord]) -> None:
        """Place every record as it is, keeping its id, version and timestamps; all or none.

        A record whose id is already stored replaces it (its lookups and
        timeline entries too). Nothing is compare-and-set: this is for
        restoring exports, snapshots and fixtures, not for an app's writes.

        Raises:
            ValidationError: naming ``records[i]`` for anything but a customer,
                lead, interaction, merge record, opportunity, task or case, or
                for a value no store could read back (and for a work item
                when the store does not :class:`SupportsWorkItems`).
            DuplicateRecord: an interaction would take the ``external_id`` of
                another stored one.
        """
        ...


class AuditRepository(Protocol):
    """The audit trail of a store: append-only entries, oldest first.

    Every write path of the store appends to it (see :mod:`crmcore.audit`);
    entries hold ids and field names, never values.
    """

    def append(self, entry: AuditEntry) -> AuditEntry:
        """Store an entry as it is (what :func:`crmcore.audit.audited` calls at its end).

        Apps may append entries of their own (an export, a read they must
        log); the entry is never audited itself. An id already stored raises
        :class:`~crmcore.DuplicateRecord`.
        """
        ...

    def get(self, entry_id: str) -> AuditEntry:
        """The entry with this id, or :class:`~crmcore.NotFound`."""
        ...

    def list(
        self,
        *,
        record_id: str | None = None,
        action: AuditAction | None = None,
        since: datetime | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[AuditEntry]:
        """One page of the entries, oldest first (by id, which is time-ordered).

        ``record_id``: only entries naming that record among their targets;
        ``action``: only that action; ``since``: only entries at or after it.
        """
        ...

    def count(self) -> int:
        """How many entries are stored."""
        ...


class SuppressionRepository(Protocol):
    """The suppression list: keyed digests of erased contact points (never the points).

    :mod:`crmcore.privacy` computes the digests (HMAC-SHA256 under
    :meth:`SupportsPrivacy.privacy_secret`); the store only keeps the set.
    Adding digests is not audited: they name no record.
    """

    def add(self, digests: Iterable[str]) -> int:
        """Add digests (1 to 128 printable ASCII characters each); return how many were new."""
        ...

    def contains(self, digest: str) -> bool:
        """Whether the digest is on the list."""
        ...

    def __contains__(self, digest: object) -> bool:
        """``digest in store.suppressions``: :meth:`contains`."""
        ...

    def count(self) -> int:
        """How many digests are on the list."""
        ...


class RequestRepository(Protocol):
    """The subject requests of a store (:class:`~crmcore.subject_requests.SubjectRequest`)."""

    def add(self, request: SubjectRequest) -> SubjectRequest:
        """Store a new request (version 1); an id already stored raises ``DuplicateRecord``."""
        ...

    def get(self, request_id: str) -> SubjectRequest:
        """The request with this id, or :class:`~crmcore.NotFound`."""
        ...

    def update(self, request: SubjectRequest) -> SubjectRequest:
        """Compare-and-set replace: ``VersionConflict`` when the stored version differs."""
        ...

    def list(
        self,
        *,
        open_only: bool = False,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[SubjectRequest]:
        """One page of the requests in id order (oldest first); only unanswered ones
        when ``open_only``."""
        ...


@runtime_checkable
class SupportsPrivacy(Protocol):
    """A store that keeps an audit trail, a suppression list and subject requests,
    besides :class:`Store`: what :mod:`crmcore.privacy` needs.

    All three built-in stores implement it. A store that does not is still a
    :class:`Store`; the contract kit's ``supports_privacy = False`` flag says
    so to the kit, and :func:`crmcore.audit.audited` then only opens a transaction.
    """

    @property
    def audit(self) -> AuditRepository:
        """The audit trail."""
        ...

    @property
    def suppressions(self) -> SuppressionRepository:
        """The suppression list."""
        ...

    @property
    def requests(self) -> RequestRepository:
        """The subject requests."""
        ...

    def privacy_secret(self) -> bytes:
        """The store's 32 random secret bytes: created once, kept in the store, never logged.

        The key of the suppression digests: the same store always answers
        the same bytes, another store other ones.
        """
        ...

    def forget_merge(self, merge_id: str) -> None:
        """Delete a merge record and its snapshots (for erasure); ``NotFound`` if absent."""
        ...

    def compact(self) -> None:
        """Make the bytes of deleted data leave the store's files.

        SQLite: ``VACUUM`` and ``wal_checkpoint(TRUNCATE)``; PostgreSQL:
        ``VACUUM FULL`` of the crmcore tables; memory: nothing to do. Call it
        outside any transaction.
        """
        ...


@runtime_checkable
class PrivateStore(Store, SupportsPrivacy, Protocol):
    """A :class:`Store` that :class:`SupportsPrivacy`: what the privacy services take."""
