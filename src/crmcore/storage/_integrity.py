"""Referential integrity: which ids a stored record may name, and what may not be deleted.

The rules, the same in every built-in store (``docs/storage.md``, "Referential
integrity"):

- A write (``add``, ``add_many``, ``update``) refuses a record naming a record
  that is not stored: an interaction's participants (stored customers or
  leads) and its ``case_id`` (a stored case); a customer's ``organization_id``
  (a stored customer of kind organisation); a lead's
  ``converted_customer_id``; an opportunity's ``customer_id``, its contact
  roles and its ``lead_id``; a task's ``about_id`` (a customer, lead,
  opportunity or case); a case's ``customer_id``. The refusal is an
  :class:`~crmcore.IntegrityError` whose ``field`` names the reference
  (``participants[1].record_id``, ``records[3].organization_id`` in a batch),
  never the id.
- A batch may name records of the same batch (a person and the organisation
  it belongs to, in one ``add_many``): the check runs after the batch is
  written, inside its transaction, and a refusal undoes the batch.
- Deleting a customer, lead, case or opportunity that a stored record still
  names is refused (``field`` names the referring entity and field,
  ``interaction.participants``). Nothing cascades: what refers to a record
  is removed or re-pointed first (erasure does so).
- An organisation that persons belong to cannot become a person (``kind``).

Exempt, on purpose:

- ``merged_into``: a merge's tombstones and the survivor they point at are
  the merge's own bookkeeping (``crmcore.merge``); deleting a survivor is
  not refused because of them, and erasure removes them first.
- ``load()``: restoring an export places records in any order, so it is
  never checked (an export of a consistent store is consistent).
- A merge record's snapshots, and a done task's ``interaction_id``: they are
  history (what was, what did the task), not relations; deleting the
  interaction leaves the task as it is.
- Naming a merged-away record (a tombstone) is allowed: it is stored, and
  ``resolve`` leads to its survivor.

Each check is one query per kind of target and batch (``IN`` over the
batch's ids, in chunks where a database limits parameters), in the write's
own transaction: the store writes first and checks afterwards, so the
check sees the batch itself, and on PostgreSQL the probes lock the rows they
find (``FOR KEY SHARE``, ``FOR SHARE`` for an organisation's kind) while a
delete or an update already holds its row: a concurrent delete and a write
naming the deleted record cannot both commit.

A backend supplies one primitive, :data:`Present`: which of some values a
column of one of its tables holds (a :class:`Probe`). This module owns the
rule list; :func:`check_written` and :func:`check_deleted` are what the
stores call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Final, Literal

import attrs

from crmcore.cases import Case
from crmcore.customers import Customer, CustomerKind
from crmcore.errors import IntegrityError
from crmcore.ids import (
    CASE_PREFIX,
    CUSTOMER_PREFIX,
    LEAD_PREFIX,
    OPPORTUNITY_PREFIX,
)
from crmcore.interactions import Interaction
from crmcore.leads import Lead
from crmcore.opportunities import Opportunity
from crmcore.tasks import Task

__all__ = [
    "Present",
    "Probe",
    "check_deleted",
    "check_written",
    "column_values",
    "scan",
]

Lock = Literal["key_share", "share"] | None
"""The row lock a probe takes on PostgreSQL (other databases serialise writers)."""


@attrs.frozen
class Probe:
    """A question to a store: which of some values does ``table.column`` hold?

    ``table`` is a logical name (the SQL store's :class:`~crmcore.storage.sql.Tables`
    attribute: ``customers``, ``leads``, ``participants``, ``opportunities``,
    ``opportunity_members``, ``tasks``, ``cases``); ``where`` narrows the rows to
    those whose column equals a constant (``("kind", "organization")``).
    """

    table: str
    column: str
    where: tuple[str, str] | None = None
    lock: Lock = None


Present = Callable[[Probe, Sequence[str]], set[str]]
"""A backend's answer to a :class:`Probe`, inside the write's transaction: the
values among the given ones that the probed column holds."""


# What a reference must name, by target: a stored row of that kind.
_CUSTOMER: Final = Probe("customers", "id", lock="key_share")
_ORGANIZATION: Final = Probe(
    "customers", "id", ("kind", CustomerKind.ORGANIZATION.value), lock="share"
)
_TARGETS: Final[Mapping[str, Probe]] = {
    "customer": _CUSTOMER,
    "organization": _ORGANIZATION,
    "lead": Probe("leads", "id", lock="key_share"),
    "case": Probe("cases", "id", lock="key_share"),
    "opportunity": Probe("opportunities", "id", lock="key_share"),
}
_NOUNS: Final[Mapping[str, str]] = {
    "customer": "customer",
    "organization": "organisation",
    "lead": "lead",
    "case": "case",
    "opportunity": "opportunity",
}
_BY_PREFIX: Final[Mapping[str, str]] = {
    CUSTOMER_PREFIX: "customer",
    LEAD_PREFIX: "lead",
    CASE_PREFIX: "case",
    OPPORTUNITY_PREFIX: "opportunity",
}

_MEMBERS: Final = Probe("customers", "organization_id")
"""The persons that belong to an organisation."""


@attrs.frozen
class _Referrer:
    """Where a stored record may name a target: the probe, and how the error says it."""

    probe: Probe
    entity: str
    field: str


_PARTICIPANTS: Final = Probe("participants", "record_id")
_ABOUT: Final = _Referrer(Probe("tasks", "about_id"), "task", "about_id")

# Everything that may name a record of each kind (by the kind's id prefix).
_REFERRERS: Final[Mapping[str, tuple[_Referrer, ...]]] = {
    "customer": (
        _Referrer(_PARTICIPANTS, "interaction", "participants"),
        _Referrer(_MEMBERS, "customer", "organization_id"),
        _Referrer(Probe("leads", "converted_customer_id"), "lead", "converted_customer_id"),
        _Referrer(Probe("opportunities", "customer_id"), "opportunity", "customer_id"),
        _Referrer(
            Probe("opportunity_members", "value", ("field", "contact_ids")),
            "opportunity",
            "contacts",
        ),
        _ABOUT,
        _Referrer(Probe("cases", "customer_id"), "case", "customer_id"),
    ),
    "lead": (
        _Referrer(_PARTICIPANTS, "interaction", "participants"),
        _Referrer(Probe("opportunities", "lead_id"), "opportunity", "lead_id"),
        _ABOUT,
    ),
    # A case's thread is one more participant row of its interactions.
    "case": (_Referrer(_PARTICIPANTS, "interaction", "case_id"), _ABOUT),
    "opportunity": (_ABOUT,),
}


def _kind_of(record_id: str) -> str | None:
    return _BY_PREFIX.get(record_id[:4])


def references(record: object) -> Iterator[tuple[str, str, str]]:
    """The references a record makes: ``(path, target kind, id)``, in field order.

    ``merged_into`` is left out (see the module docstring), as is everything of
    a record type that names nothing (a merge record).
    """
    if isinstance(record, Interaction):
        for i, p in enumerate(record.participants):
            yield f"participants[{i}].record_id", _kind_of(p.record_id) or "customer", p.record_id
        if record.case_id is not None:
            yield "case_id", "case", record.case_id
    elif isinstance(record, Customer):
        if record.organization_id is not None:
            yield "organization_id", "organization", record.organization_id
    elif isinstance(record, Lead):
        if record.converted_customer_id is not None:
            yield "converted_customer_id", "customer", record.converted_customer_id
    elif isinstance(record, Opportunity):
        yield "customer_id", "customer", record.customer_id
        for i, contact in enumerate(record.contacts):
            yield f"contacts[{i}].customer_id", "customer", contact.customer_id
        if record.lead_id is not None:
            yield "lead_id", "lead", record.lead_id
    elif isinstance(record, Task):
        if record.about_id is not None:
            kind = _kind_of(record.about_id)
            if kind is not None:
                yield "about_id", kind, record.about_id
    elif isinstance(record, Case):
        yield "customer_id", "customer", record.customer_id


def _path(batch: str | None, index: int, path: str) -> str:
    return path if batch is None else f"{batch}[{index}].{path}"


def check_written(
    records: Sequence[object],
    present: Present,
    *,
    batch: str | None = None,
    updated: bool = False,
) -> None:
    """Refuse written ``records`` whose references name nothing stored.

    Called by a store after writing ``records`` and before its transaction
    ends, so that references within the batch resolve; the caller's
    transaction undoes the write when this raises.

    Args:
        records: the stored copies just written.
        present: the store's :data:`Present`, on the write's connection.
        batch: the argument a batch came in (``"records"``): paths are then
            ``records[3].organization_id``; ``None`` for one record.
        updated: the records replaced stored ones (an update): a customer
            that is no longer an organisation must have no persons left.

    Raises:
        IntegrityError: ``field`` naming the first dangling reference.
    """
    wanted: dict[str, dict[str, None]] = {}
    for record in records:
        if type(record) is Interaction:
            # The hot path (ingestion): no paths are spelled out unless one is refused.
            for p in record.participants:
                rid = p.record_id
                kind = "lead" if rid.startswith(LEAD_PREFIX) else "customer"
                wanted.setdefault(kind, {})[rid] = None
            if record.case_id is not None:
                wanted.setdefault("case", {})[record.case_id] = None
        elif type(record) is Customer:
            if record.organization_id is not None:  # most customers belong to none
                wanted.setdefault("organization", {})[record.organization_id] = None
        else:
            for _, target, ref_id in references(record):
                wanted.setdefault(target, {})[ref_id] = None
    found = {target: present(_TARGETS[target], list(ids)) for target, ids in wanted.items()}
    if any(len(found[target]) < len(ids) for target, ids in wanted.items()):
        for i, record in enumerate(records):
            for path, target, ref_id in references(record):
                if ref_id not in found[target]:
                    raise _dangling(_path(batch, i, path), target, ref_id, present)
    if updated:
        persons = [
            (i, r.id)
            for i, r in enumerate(records)
            if isinstance(r, Customer) and r.kind is not CustomerKind.ORGANIZATION
        ]
        if persons:
            members = present(_MEMBERS, [rid for _, rid in persons])
            for i, rid in persons:
                if rid in members:
                    field = _path(batch, i, "kind")
                    raise IntegrityError(
                        f"{field}: persons still belong to this organisation", field=field
                    )


def _dangling(field: str, target: str, ref_id: str, present: Present) -> IntegrityError:
    if target == "organization" and present(_CUSTOMER, [ref_id]):
        return IntegrityError(f"{field}: names a customer that is not an organisation", field=field)
    return IntegrityError(f"{field}: no {_NOUNS[target]} with this id is stored", field=field)


def check_deleted(record_id: str, present: Present) -> None:
    """Refuse deleting ``record_id`` while a stored record still names it.

    Called by a store after deleting the record and before its transaction
    ends (the delete holds the row, so no writer can name it meanwhile).

    Raises:
        IntegrityError: ``field`` naming the referring entity and field
            (``interaction.participants``).
    """
    kind = _kind_of(record_id)
    if kind is None:
        return
    for referrer in _REFERRERS[kind]:
        if present(referrer.probe, [record_id]):
            field = f"{referrer.entity}.{referrer.field}"
            article = "an" if referrer.entity[0] in "aeiou" else "a"
            raise IntegrityError(
                f"the {_NOUNS[kind]} is still named by {article} {referrer.entity}'s "
                f"{referrer.field}: remove or re-point those first",
                field=field,
            )


# --------------------------------------------------------------------------- in memory


def column_values(probe: Probe, record: object) -> Iterable[str]:
    """The values a probe's column holds for one record (a store without SQL scans with it).

    ``id`` and the scalar reference columns hold one value or none; the
    ``opportunity_members`` contacts hold one per contact role; ``where``
    is checked too.
    """
    if probe.where is not None:
        column, value = probe.where
        if column == "kind":
            if not isinstance(record, Customer) or record.kind.value != value:
                return ()
        elif not (column == "field" and value == "contact_ids"):
            return ()
    if probe.table == "opportunity_members":
        if isinstance(record, Opportunity):
            return tuple(c.customer_id for c in record.contacts)
        return ()
    found = getattr(record, probe.column, None)
    return () if found is None else (found,)


def scan(probe: Probe, records: Mapping[str, object], values: Sequence[str]) -> set[str]:
    """:data:`Present` over a dict of records by id: a lookup for ``id``, else a scan."""
    if probe.column == "id":
        hits = set()
        for value in values:
            record = records.get(value)
            if record is not None and value in column_values(probe, record):
                hits.add(value)
        return hits
    wanted = set(values)
    return {v for record in records.values() for v in column_values(probe, record) if v in wanted}
