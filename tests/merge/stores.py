"""Store factories for the merge and workflow tests, and a whole-store snapshot."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs

from crmcore import Customer, Interaction, Lead
from crmcore.dedup import blocking_keys
from crmcore.storage import InMemoryStore, SQLiteStore

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
    """Every customer and lead and every interaction of ``record_ids``, by id.

    With ``bookkeeping=False``, ``version`` and ``updated_at`` are blanked:
    the fields an unmerge legitimately changes.
    """
    found: dict[str, Any] = {}
    for customer in store.customers.iter_all():
        found[customer.id] = customer
    for lead in store.leads.iter_all():
        found[lead.id] = lead
    for record_id in record_ids:
        for interaction in store.interactions.list_for(record_id, limit=None):
            found[interaction.id] = interaction
    if not bookkeeping:
        found = {k: _blank(v) for k, v in found.items()}
    return found


def _blank(record: Customer | Lead | Interaction) -> Any:
    return attrs.evolve(record, version=1, updated_at=record.created_at)
