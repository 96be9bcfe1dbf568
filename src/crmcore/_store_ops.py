"""The few store operations the merge and workflow services need, by record type.

Services take a :class:`crmcore.storage.Store`; these helpers pick the
repository from a record's type or id prefix, so that every call below is
checked against the repository protocol it goes to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from crmcore.customers import Customer
from crmcore.errors import NotFound, ValidationError
from crmcore.ids import CustomerId, LeadId, is_customer_id, is_lead_id
from crmcore.interactions import Channel, Interaction
from crmcore.leads import Lead

if TYPE_CHECKING:
    from crmcore.storage import Filter, Page, RecordRepository, Store

StoredRecord = Customer | Lead | Interaction
R = TypeVar("R", bound=StoredRecord)
P = TypeVar("P", bound=Customer | Lead)
T = TypeVar("T")

PAGE_SIZE = 500


def check_merging_store(store: object) -> None:
    """Refuse a store that keeps no merge records, naming ``store``.

    The check :class:`~crmcore.storage.SupportsMerges` makes at run time (the
    ``merges`` property), done without importing the storage package.
    """
    if not hasattr(store, "merges"):
        raise ValidationError("store", "must keep merge records (SupportsMerges)")


def transaction(store: Store) -> AbstractContextManager[None]:
    """The store's unit of work."""
    return store.transaction()


def _read(store: Store, record_id: str, *, follow_merges: bool) -> Customer | Lead:
    if is_customer_id(record_id):
        customer_id = CustomerId(record_id)
        customers = store.customers
        return customers.resolve(customer_id) if follow_merges else customers.get(customer_id)
    if is_lead_id(record_id):
        lead_id, leads = LeadId(record_id), store.leads
        return leads.resolve(lead_id) if follow_merges else leads.get(lead_id)
    raise ValidationError("ids", "must be customer or lead ids")


def get_record(store: Store, record_id: str) -> Customer | Lead:
    """The stored customer or lead with ``record_id`` (NotFound if none)."""
    return _read(store, record_id, follow_merges=False)


def resolve(store: Store, record_id: str) -> Customer | Lead:
    """The live record an id stands for, following merges."""
    return _read(store, record_id, follow_merges=True)


def _stored_copy(store: Store, record: StoredRecord) -> StoredRecord:
    if isinstance(record, Customer):
        return store.customers.get(record.id)
    if isinstance(record, Lead):
        return store.leads.get(record.id)
    return store.interactions.get(record.id)


def find_record(store: Store, record: R) -> R | None:
    """The stored copy of ``record``, or ``None`` when it was deleted."""
    try:
        # The repository of R's type returns an R.
        return cast(R, _stored_copy(store, record))
    except NotFound:
        return None


def _write(store: Store, record: R, *, new: bool) -> R:
    written: StoredRecord
    if isinstance(record, Customer):
        written = store.customers.add(record) if new else store.customers.update(record)
    elif isinstance(record, Lead):
        written = store.leads.add(record) if new else store.leads.update(record)
    else:
        written = store.interactions.add(record) if new else store.interactions.update(record)
    # The repository of R's type returns an R.
    return cast(R, written)


def update_record(store: Store, record: R) -> R:
    """Compare-and-set ``record`` into its repository."""
    return _write(store, record, new=False)


def add_record(store: Store, record: R) -> R:
    """Add ``record`` to its repository."""
    return _write(store, record, new=True)


def iter_interactions(
    store: Store,
    record_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    channel: Channel | None = None,
    page_size: int = PAGE_SIZE,
) -> Iterator[Interaction]:
    """Every interaction of ``record_id``, newest first, read a page at a time as consumed."""
    holder = CustomerId(record_id) if is_customer_id(record_id) else LeadId(record_id)
    return _paged(
        lambda cursor: store.interactions.list_for(
            holder, since=since, until=until, channel=channel, limit=page_size, cursor=cursor
        )
    )


def _paged(read: Callable[[str | None], Page[T]]) -> Iterator[T]:
    """Every item of a cursor-paginated read, one page at a time as consumed."""
    cursor = None
    while True:
        page = read(cursor)
        yield from page.items
        cursor = page.next_cursor
        if cursor is None:
            return


def interactions_for(store: Store, record_ids: Iterable[str]) -> list[Interaction]:
    """Every interaction of any of ``record_ids``, each once."""
    found: dict[str, Interaction] = {}
    for record_id in record_ids:
        for interaction in iter_interactions(store, record_id):
            found.setdefault(interaction.id, interaction)
    return list(found.values())


def _having(repository: RecordRepository[P, Any], field: str, values: Iterable[str]) -> list[P]:
    """The records whose ``field`` is one of ``values``, each once."""
    from crmcore.storage import where

    def pages(condition: Filter) -> Iterator[P]:
        return _paged(lambda cursor: repository.list(condition, limit=PAGE_SIZE, cursor=cursor))

    found: dict[str, P] = {}
    for value in values:
        for record in pages(where(field).eq(value)):
            found.setdefault(record.id, record)
    return list(found.values())


def leads_converted_into(store: Store, customer_ids: Iterable[str]) -> list[Lead]:
    """The leads whose ``converted_customer_id`` is one of ``customer_ids``."""
    return _having(store.leads, "converted_customer_id", customer_ids)


def members_of(store: Store, organization_ids: Iterable[str]) -> list[Customer]:
    """The people whose ``organization_id`` is one of ``organization_ids``."""
    return _having(store.customers, "organization_id", organization_ids)
