"""Store factories for the merge and workflow tests, and a whole-store snapshot."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Self

import attrs

from crmcore.dedup import blocking_keys
from crmcore.storage import (
    CustomerRepository,
    InMemoryStore,
    InteractionRepository,
    LeadRepository,
    MergeRepository,
    SQLiteStore,
)

StoreFactory = Callable[[], Any]

FACTORIES: dict[str, StoreFactory] = {
    "memory": InMemoryStore,
    "sqlite": lambda: SQLiteStore(":memory:"),
}

WITH_DEDUP_KEYS: dict[str, StoreFactory] = {
    **FACTORIES,
    # Stores whose key index holds the dedup rules' blocking keys, so that
    # check_duplicates finds candidates through find_by_keys.
    "sqlite-dedup-keys": lambda: SQLiteStore(":memory:", key_function=blocking_keys),
}


def dump(store: Any, record_ids: Iterable[str], *, bookkeeping: bool = True) -> dict[str, Any]:
    """Every customer, lead and work item, and every interaction of ``record_ids``, by id.

    With ``bookkeeping=False``, ``version`` and ``updated_at`` are blanked:
    the fields an unmerge legitimately changes.
    """
    found: dict[str, Any] = {}
    for customer in store.customers.iter_all():
        found[customer.id] = customer
    for lead in store.leads.iter_all():
        found[lead.id] = lead
    for repository in ("opportunities", "tasks", "cases"):
        if hasattr(store, repository):  # a store that keeps work items
            for item in getattr(store, repository).iter_all():
                found[item.id] = item
    for record_id in record_ids:
        for interaction in store.interactions.list_for(record_id, limit=None):
            found[interaction.id] = interaction
    if not bookkeeping:
        found = {k: _blank(v) for k, v in found.items()}
    return found


def _blank(record: Any) -> Any:
    return attrs.evolve(record, version=1, updated_at=record.created_at)


class NoMergesStore:
    """A whole Store, by delegation, that keeps no merge records (nor work items)."""

    def __init__(self, inner: InMemoryStore | None = None) -> None:
        self._inner = InMemoryStore() if inner is None else inner

    @property
    def customers(self) -> CustomerRepository:
        return self._inner.customers

    @property
    def leads(self) -> LeadRepository:
        return self._inner.leads

    @property
    def interactions(self) -> InteractionRepository:
        return self._inner.interactions

    def transaction(self) -> AbstractContextManager[None]:
        return self._inner.transaction()

    def close(self) -> None:
        self._inner.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class NoWorkItemsStore(NoMergesStore):
    """A merging store, by delegation, that keeps no opportunities, tasks or cases."""

    @property
    def merges(self) -> MergeRepository:
        return self._inner.merges
