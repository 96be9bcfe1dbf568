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
    from crmcore.storage import Page, RecordRepository, Store

StoredRecord = Customer | Lead | Interaction
R = TypeVar("R", bound=StoredRecord)
T = TypeVar("T")

PAGE_SIZE = 500


def transaction(store: Store) -> AbstractContextManager[None]:
    """The store's unit of work."""
    return store.transaction()


def _not_a_record_id() -> ValidationError:
    return ValidationError("ids", "must be customer or lead ids")


def get_record(store: Store, record_id: str) -> Customer | Lead:
    """The stored customer or lead with ``record_id`` (NotFound if none)."""
    if is_customer_id(record_id):
        return store.customers.get(CustomerId(record_id))
    if is_lead_id(record_id):
        return store.leads.get(LeadId(record_id))
    raise _not_a_record_id()


def resolve(store: Store, record_id: str) -> Customer | Lead:
    """The live record an id stands for, following merges."""
    if is_customer_id(record_id):
        return store.customers.resolve(CustomerId(record_id))
    if is_lead_id(record_id):
        return store.leads.resolve(LeadId(record_id))
    raise _not_a_record_id()


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


def update_record(store: Store, record: R) -> R:
    """Compare-and-set ``record`` into its repository."""
    written: StoredRecord
    if isinstance(record, Customer):
        written = store.customers.update(record)
    elif isinstance(record, Lead):
        written = store.leads.update(record)
    else:
        written = store.interactions.update(record)
    return cast(R, written)


def add_record(store: Store, record: R) -> R:
    """Add ``record`` to its repository."""
    written: StoredRecord
    if isinstance(record, Customer):
        written = store.customers.add(record)
    elif isinstance(record, Lead):
        written = store.leads.add(record)
    else:
        written = store.interactions.add(record)
    return cast(R, written)


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


def _list_all(repository: RecordRepository[T, Any], field: str, value: str) -> Iterator[T]:
    from crmcore.storage import where

    condition = where(field).eq(value)
    return _paged(lambda cursor: repository.list(condition, limit=PAGE_SIZE, cursor=cursor))


def leads_converted_into(store: Store, customer_ids: Iterable[str]) -> list[Lead]:
    """The leads whose ``converted_customer_id`` is one of ``customer_ids``."""
    found: dict[str, Lead] = {}
    for customer_id in customer_ids:
        for lead in _list_all(store.leads, "converted_customer_id", customer_id):
            found.setdefault(lead.id, lead)
    return list(found.values())


def members_of(store: Store, organization_ids: Iterable[str]) -> list[Customer]:
    """The people whose ``organization_id`` is one of ``organization_ids``."""
    found: dict[str, Customer] = {}
    for organization_id in organization_ids:
        for member in _list_all(store.customers, "organization_id", organization_id):
            found.setdefault(member.id, member)
    return list(found.values())
