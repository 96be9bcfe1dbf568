"""The few store operations the merge and workflow services need, by record type.

Services take any object that follows :class:`crmcore.storage.Store`; these
helpers pick the repository from a record's type or id prefix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, TypeVar, cast

from crmcore.customers import Customer
from crmcore.errors import NotFound, ValidationError
from crmcore.ids import is_customer_id, is_lead_id
from crmcore.interactions import Channel, Interaction
from crmcore.leads import Lead

R = TypeVar("R", bound=Customer | Lead | Interaction)

PAGE_SIZE = 500


def transaction(store: Any) -> AbstractContextManager[Any]:
    """The store's unit of work."""
    return cast(AbstractContextManager[Any], store.transaction())


def repository_for(store: Any, record: object) -> Any:
    """The repository that holds ``record`` (a record or an id)."""
    if isinstance(record, Customer) or is_customer_id(record):
        return store.customers
    if isinstance(record, Lead) or is_lead_id(record):
        return store.leads
    if isinstance(record, Interaction):
        return store.interactions
    raise ValidationError("ids", "must be customer or lead ids")


def get_record(store: Any, record_id: str) -> Customer | Lead:
    """The stored customer or lead with ``record_id`` (NotFound if none)."""
    return cast(Customer | Lead, repository_for(store, record_id).get(record_id))


def find_record(store: Any, record: R) -> R | None:
    """The stored copy of ``record``, or ``None`` when it was deleted."""
    try:
        return cast(R, repository_for(store, record).get(record.id))
    except NotFound:
        return None


def update_record(store: Any, record: R) -> R:
    """Compare-and-set ``record`` into its repository."""
    return cast(R, repository_for(store, record).update(record))


def add_record(store: Any, record: R) -> R:
    """Add ``record`` to its repository."""
    return cast(R, repository_for(store, record).add(record))


def resolve(store: Any, record_id: str) -> Customer | Lead:
    """The live record an id stands for, following merges."""
    return cast(Customer | Lead, repository_for(store, record_id).resolve(record_id))


def iter_interactions(
    store: Any,
    record_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    channel: Channel | None = None,
    page_size: int = PAGE_SIZE,
) -> Iterator[Interaction]:
    """Every interaction of ``record_id``, newest first, read a page at a time as consumed."""
    return _paged(
        lambda cursor: store.interactions.list_for(
            record_id, since=since, until=until, channel=channel, limit=page_size, cursor=cursor
        )
    )


def _paged(read: Callable[[str | None], Any]) -> Iterator[Any]:
    """Every item of a cursor-paginated read, one page at a time as consumed."""
    cursor = None
    while True:
        page = read(cursor)
        yield from page.items
        cursor = page.next_cursor
        if cursor is None:
            return


def interactions_for(store: Any, record_ids: Iterable[str]) -> list[Interaction]:
    """Every interaction of any of ``record_ids``, each once."""
    found: dict[str, Interaction] = {}
    for record_id in record_ids:
        for interaction in iter_interactions(store, record_id):
            found.setdefault(interaction.id, interaction)
    return list(found.values())


def _list_all(repository: Any, field: str, value: str) -> Iterator[Any]:
    from crmcore.storage import where

    condition = where(field).eq(value)
    return _paged(lambda cursor: repository.list(condition, limit=PAGE_SIZE, cursor=cursor))


def leads_converted_into(store: Any, customer_ids: Iterable[str]) -> list[Lead]:
    """The leads whose ``converted_customer_id`` is one of ``customer_ids``."""
    found: dict[str, Lead] = {}
    for customer_id in customer_ids:
        for lead in _list_all(store.leads, "converted_customer_id", customer_id):
            found.setdefault(lead.id, lead)
    return list(found.values())


def members_of(store: Any, organization_ids: Iterable[str]) -> list[Customer]:
    """The people whose ``organization_id`` is one of ``organization_ids``."""
    found: dict[str, Customer] = {}
    for organization_id in organization_ids:
        for member in _list_all(store.customers, "organization_id", organization_id):
            found.setdefault(member.id, member)
    return list(found.values())
