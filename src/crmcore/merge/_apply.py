"""Applying a merge to a store: one transaction, compare-and-set, a :class:`MergeRecord` kept."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import attrs

from crmcore import _store_ops as ops
from crmcore._repr import id_of
from crmcore._validation import items_of, utcnow
from crmcore.audit import AuditAction, audited
from crmcore.cases import Case
from crmcore.customers import Customer
from crmcore.errors import ValidationError, VersionConflict
from crmcore.events import (
    CaseUpdated,
    CustomerUpdated,
    DomainEvent,
    EventDispatcher,
    LeadStatusChanged,
    OpportunityUpdated,
    RecordsMerged,
    TaskUpdated,
    publish,
)
from crmcore.ids import MergeId, is_customer_id, is_lead_id, new_merge_id
from crmcore.leads import Lead
from crmcore.merge._plan import MergePlan, Record, default_survivor, plan_merge
from crmcore.merge._survivorship import MergePolicy, Rule
from crmcore.merge_record import MergeRecord, Snapshot, StoredRecord
from crmcore.opportunities import Opportunity
from crmcore.tasks import Task

if TYPE_CHECKING:
    from crmcore.storage import MergingStore

__all__ = ["MergeResult", "merge"]


@attrs.frozen
class MergeResult:
    """What :func:`merge` did: the stored survivor, the merge's id, the plan and the record."""

    survivor: Record = attrs.field(repr=id_of)
    merge_id: MergeId
    plan: MergePlan = attrs.field(repr=False)
    record: MergeRecord = attrs.field(repr=False)


def _expected_versions(
    items: Iterable[str | Record] | MergePlan,
) -> tuple[list[str], dict[str, int], str | None, MergePolicy | None]:
    if isinstance(items, MergePlan):
        versions: dict[str, int] = {r.id: r.version for r in items.records}
        return list(versions), versions, items.survivor_id, items.policy
    ids: list[str] = []
    versions = {}
    for item in items_of(items, "ids"):
        if isinstance(item, Customer | Lead):
            ids.append(item.id)
            versions[item.id] = item.version
        elif isinstance(item, str) and (is_customer_id(item) or is_lead_id(item)):
            ids.append(item)
        else:
            raise ValidationError("ids", "must be customer or lead ids (or stored copies)")
    return ids, versions, None, None


def merge(
    store: MergingStore,
    ids: Iterable[str | Record] | MergePlan,
    *,
    survivor: str | None = None,
    policy: MergePolicy | Mapping[str, Rule] | None = None,
    events: EventDispatcher | None = None,
) -> MergeResult:
    """Merge stored records into one survivor, in one transaction.

    Every participant is read inside the transaction and written with
    compare-and-set. Pass stored copies (or a reviewed :class:`MergePlan`)
    instead of ids to also require that nobody changed them since you read
    them: a stale copy raises :class:`~crmcore.VersionConflict` and nothing is
    written. The survivor is updated; the others are kept as tombstones
    (``merged_into``), or for leads merged into a customer, marked converted;
    interactions, converted leads and organisation members are re-pointed to
    the survivor, and so, on a store that keeps work items
    (:class:`~crmcore.storage.SupportsWorkItems`), are the merged records'
    opportunities (customer and contact roles), tasks and cases; a
    :class:`MergeRecord` with full before/after copies is stored. Events
    (``RecordsMerged``, ``CustomerUpdated``/``LeadStatusChanged``, and
    ``OpportunityUpdated``/``TaskUpdated``/``CaseUpdated`` for the moved work
    items) are published before the commit: a subscriber that raises rolls it
    back.

    Raises:
        ValidationError: see :func:`plan_merge`; naming ``store`` when the store
            keeps no merge records.
        NotFound: an id is not stored.
        VersionConflict: a stored copy passed in is stale, or a concurrent
            writer won.
    """
    ops.check_merging_store(store)
    wanted, versions, plan_survivor, plan_policy = _expected_versions(ids)
    survivor = survivor if survivor is not None else plan_survivor
    policy = policy if policy is not None else plan_policy
    if len(set(wanted)) < 2:
        raise ValidationError("ids", "a merge needs at least two different records")
    with audited(store, AuditAction.MERGE, operation="merge"):
        records = [ops.get_record(store, record_id) for record_id in wanted]
        for record in records:
            expected = versions.get(record.id)
            if expected is not None and expected != record.version:
                raise VersionConflict(
                    f"{record.id} changed since it was read",
                    expected=expected,
                    actual=record.version,
                )
        # Only the records that go away have related records to move.
        keep = survivor if survivor is not None else default_survivor(records).id
        merged_ids = [r.id for r in records if r.id != keep]
        customer_ids = [i for i in merged_ids if is_customer_id(i)]
        work = ops.work_items(store)
        opportunities, tasks, cases = (
            ops.work_items_of(work, merged_ids) if work is not None else ([], [], [])
        )
        plan = plan_merge(
            records,
            survivor=survivor,
            policy=policy,
            interactions=ops.interactions_for(store, merged_ids),
            leads=ops.leads_converted_into(store, customer_ids),
            members=ops.members_of(store, customer_ids),
            opportunities=opportunities,
            tasks=tasks,
            cases=cases,
            at=utcnow(),
        )
        written_survivor = ops.update_record(store, plan.result)
        written: list[StoredRecord] = [written_survivor]
        written.extend(ops.update_record(store, r) for r in plan.retired)
        written.extend(ops.update_record(store, change.after) for change in plan.related)
        before: list[StoredRecord] = [*plan.records, *(c.before for c in plan.related)]
        merge_record = MergeRecord(
            id=new_merge_id(),
            survivor_id=plan.survivor_id,
            merged_ids=plan.merged_ids,
            before=Snapshot.of(before),
            after=Snapshot.of(written),
            merged_at=utcnow(),
        )
        stored_record: MergeRecord = store.merges.add(merge_record)
        publish(events, _merge_events(plan, stored_record))
    return MergeResult(
        survivor=written_survivor, merge_id=stored_record.id, plan=plan, record=stored_record
    )


def _merge_events(plan: MergePlan, record: MergeRecord) -> list[DomainEvent]:
    found: list[DomainEvent] = [
        RecordsMerged(
            merge_id=record.id,
            survivor_id=record.survivor_id,
            merged_ids=record.merged_ids,
            repointed_ids=record.repointed_ids,
        )
    ]
    if isinstance(plan.result, Customer) and plan.changed_fields:
        found.append(CustomerUpdated(customer_id=plan.survivor_id, fields=plan.changed_fields))
    for before, after in zip(plan.records[1:], plan.retired, strict=True):
        if isinstance(before, Lead) and isinstance(after, Lead) and before.status != after.status:
            found.append(
                LeadStatusChanged(
                    lead_id=before.id,
                    old_status=before.status.value,
                    new_status=after.status.value,
                )
            )
    # A subscriber keeping a read model of deals, tasks or cases per customer
    # hears of the moves as it hears of any other change to them.
    for change in plan.related:
        moved = change.before
        if isinstance(moved, Opportunity):
            fields = tuple(
                f
                for f in ("customer_id", "contacts")
                if getattr(moved, f) != getattr(change.after, f)
            )
            found.append(OpportunityUpdated(opportunity_id=moved.id, fields=fields))
        elif isinstance(moved, Task):
            found.append(TaskUpdated(task_id=moved.id, fields=("about_id",)))
        elif isinstance(moved, Case):
            found.append(CaseUpdated(case_id=moved.id, fields=("customer_id",)))
    return found
