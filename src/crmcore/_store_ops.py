"""The few store operations the merge and workflow services need, by record type.

Services take a :class:`crmcore.storage.Store`; these helpers pick the
repository from a record's type or id prefix, so that every call below is
checked against the repository protocol it goes to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeVar, cast

from crmcore.cases import Case
from crmcore.customers import Customer
from crmcore.errors import NotFound, ValidationError
from crmcore.ids import CustomerId, LeadId, is_customer_id, is_lead_id
from crmcore.interactions import Channel, Interaction
from crmcore.leads import Lead
from crmcore.opportunities import Opportunity
from crmcore.tasks import Task

if TYPE_CHECKING:
    from crmcore.storage import Filter, Page, Store
    from crmcore.storage.protocols import SupportsWorkItems

StoredRecord = Customer | Lead | Interaction | Opportunity | Task | Case
R = TypeVar("R", bound=StoredRecord)
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


def work_items(store: object) -> SupportsWorkItems | None:
    """The store as one that keeps opportunities, tasks and cases, or ``None`` if it does not."""
    from crmcore.storage.protocols import SupportsWorkItems

    return store if isinstance(store, SupportsWorkItems) else None


def work_store(store: Store) -> SupportsWorkItems:
    """The store as one that keeps work items, or ``ValidationError`` naming ``store``."""
    found = work_items(store)
    if found is None:
        raise ValidationError("store", "must keep opportunities, tasks and cases")
    return found


def _stored_copy(store: Store, record: StoredRecord) -> StoredRecord:
    if isinstance(record, Customer):
        return store.customers.get(record.id)
    if isinstance(record, Lead):
        return store.leads.get(record.id)
    if isinstance(record, Interaction):
        return store.interactions.get(record.id)
    work = work_store(store)
    if isinstance(record, Opportunity):
        return work.opportunities.get(record.id)
    if isinstance(record, Task):
        return work.tasks.get(record.id)
    return work.cases.get(record.id)


def current_copy(store: Store, record: R) -> R:
    """The stored copy of ``record`` (``NotFound`` when it is not stored)."""
    # The repository of R's type returns an R.
    return cast(R, _stored_copy(store, record))


def find_record(store: Store, record: R) -> R | None:
    """The stored copy of ``record``, or ``None`` when it was deleted."""
    try:
        return current_copy(store, record)
    except NotFound:
        return None


def _write(store: Store, record: R, *, new: bool) -> R:
    written: StoredRecord
    if isinstance(record, Customer):
        written = store.customers.add(record) if new else store.customers.update(record)
    elif isinstance(record, Lead):
        written = store.leads.add(record) if new else store.leads.update(record)
    elif isinstance(record, Interaction):
        written = store.interactions.add(record) if new else store.interactions.update(record)
    elif isinstance(record, Opportunity):
        opportunities = work_store(store).opportunities
        written = opportunities.add(record) if new else opportunities.update(record)
    elif isinstance(record, Task):
        tasks = work_store(store).tasks
        written = tasks.add(record) if new else tasks.update(record)
    else:
        cases = work_store(store).cases
        written = cases.add(record) if new else cases.update(record)
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


class _Listing(Protocol[T]):
    """What a repository of records or of work items offers for a filtered listing."""

    def list(self, *filters: Filter, limit: int = ..., cursor: str | None = None) -> Page[T]:
        """One page of the items matching every filter."""
        ...


def having(repository: _Listing[R], field: str, values: Iterable[str]) -> list[R]:
    """The items whose ``field`` is (for ``contact_ids``: holds) one of ``values``, each once.

    One filtered listing per ``PAGE_SIZE`` values (``in_``; ``contact_ids``,
    a collection, is matched one value at a time), read a page at a time.
    """
    from crmcore.storage import where

    def pages(condition: Filter) -> Iterator[R]:
        return _paged(lambda cursor: repository.list(condition, limit=PAGE_SIZE, cursor=cursor))

    wanted = list(dict.fromkeys(values))
    if field == "contact_ids":
        conditions = [where(field).contains(value) for value in wanted]
    else:
        conditions = [
            where(field).in_(wanted[i : i + PAGE_SIZE]) for i in range(0, len(wanted), PAGE_SIZE)
        ]
    found: dict[str, R] = {}
    for condition in conditions:
        for record in pages(condition):
            found.setdefault(record.id, record)
    return list(found.values())


def leads_converted_into(store: Store, customer_ids: Iterable[str]) -> list[Lead]:
    """The leads whose ``converted_customer_id`` is one of ``customer_ids``."""
    return having(store.leads, "converted_customer_id", customer_ids)


def members_of(store: Store, organization_ids: Iterable[str]) -> list[Customer]:
    """The people whose ``organization_id`` is one of ``organization_ids``."""
    return having(store.customers, "organization_id", organization_ids)


def work_items_of(
    store: SupportsWorkItems, record_ids: Iterable[str]
) -> tuple[list[Opportunity], list[Task], list[Case]]:
    """The work items about any of ``record_ids``: each once, in the order found.

    Opportunities whose customer is (or whose contacts name) one of them,
    tasks about one of them, and cases of one of them.
    """
    ids = list(record_ids)
    customers = [i for i in ids if is_customer_id(i)]
    opportunities = having(store.opportunities, "customer_id", customers)
    seen = {o.id for o in opportunities}
    opportunities.extend(
        o for o in having(store.opportunities, "contact_ids", customers) if o.id not in seen
    )
    tasks = having(store.tasks, "about_id", ids)
    cases = having(store.cases, "customer_id", customers)
    return opportunities, tasks, cases


def opportunity_from_lead(store: SupportsWorkItems, lead_id: str) -> Opportunity | None:
    """The opportunity opened from ``lead_id`` (the oldest, should there be several)."""
    found = having(store.opportunities, "lead_id", [lead_id])
    return min(found, key=lambda o: (o.created_at, o.id), default=None)
