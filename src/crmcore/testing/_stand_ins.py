"""Stand-ins for the records a test's records name, so that a store takes them.

Every store refuses a record naming a record it does not hold (referential
integrity, ``docs/storage.md``). The contract kit's builders make records
that name fresh ids (a deal's customer, a task's subject); before storing
them, a check calls :func:`store_referenced`, which stores a minimal record
under each id that is not stored yet: a person, an organisation, a lead, a
case or a deal, themselves naming stand-ins where they must.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from crmcore.customers import Customer, CustomerKind
from crmcore.ids import CaseId, CustomerId, OpportunityId, new_customer_id
from crmcore.leads import Lead
from crmcore.storage._integrity import references
from crmcore.storage.protocols import Store, SupportsWorkItems
from crmcore.testing import _work_builders as work
from crmcore.testing._builders import BASE_TIME
from crmcore.values import PersonName

__all__ = ["stand_in_customer", "store_referenced"]


def stand_in_customer(
    customer_id: str | None = None, *, kind: CustomerKind = CustomerKind.PERSON
) -> Customer:
    """A customer with a name only (no contact point a lookup or a dedup check could find)."""
    name: PersonName | str = (
        "Referenced Organisation AB"
        if kind is CustomerKind.ORGANIZATION
        else PersonName(given="Referenced", family="Person")
    )
    # A fixed creation time: two stores given the same stand-ins hold equal records.
    return Customer(
        id=CustomerId(customer_id or new_customer_id()),
        kind=kind,
        name=name,
        created_at=BASE_TIME,
        updated_at=BASE_TIME,
    )


def _missing(store: Store, target: str, ids: list[str]) -> list[str]:
    if target in ("customer", "organization"):
        stored: Any = store.customers.get_many(ids)
    elif target == "lead":
        stored = store.leads.get_many(ids)
    elif isinstance(store, SupportsWorkItems):
        repository: Any = store.cases if target == "case" else store.opportunities
        stored = repository.get_many(ids)
    else:
        stored = {}
    return [i for i in ids if i not in stored]


def store_referenced(store: Store, records: Iterable[object], *, owner: str | None = None) -> None:
    """Store a stand-in for every record ``records`` name that ``store`` does not hold.

    A deal or a case stand-in names a stand-in customer of its own (``owner``:
    its id, new when ``None``; give two stores the same to keep them equal).
    Ids named as an organisation get an organisation; records ``records`` hold
    themselves count as stored only once they are (store them afterwards).
    """
    wanted: dict[str, dict[str, None]] = {}
    for record in records:
        for _, target, ref_id in references(record):
            wanted.setdefault(target, {})[ref_id] = None
    customers: list[Customer] = []
    for target, kind in (
        ("customer", CustomerKind.PERSON),
        ("organization", CustomerKind.ORGANIZATION),
    ):
        for i in _missing(store, target, list(wanted.get(target, {}))):
            if all(c.id != i for c in customers):
                customers.append(stand_in_customer(i, kind=kind))
    holder = stand_in_customer(owner)
    if wanted.get("case") or wanted.get("opportunity"):
        customers.append(holder)
    if customers:
        store.customers.add_many(customers)
    leads = [
        Lead(id=i, company="Referenced Lead Ltd", created_at=BASE_TIME)  # type: ignore[arg-type]
        for i in _missing(store, "lead", list(wanted.get("lead", {})))
    ]
    if leads:
        store.leads.add_many(leads)
    if not isinstance(store, SupportsWorkItems):
        return
    cases = [
        attrs.evolve(work.case(customer_id=holder.id), id=CaseId(i))
        for i in _missing(store, "case", list(wanted.get("case", {})))
    ]
    if cases:
        store.cases.add_many(cases)
    deals = [
        attrs.evolve(
            work.opportunity(1, customer_id=holder.id),
            id=OpportunityId(i),
            contacts=(),
            lead_id=None,
        )
        for i in _missing(store, "opportunity", list(wanted.get("opportunity", {})))
    ]
    if deals:
        store.opportunities.add_many(deals)
