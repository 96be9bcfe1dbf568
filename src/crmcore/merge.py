"""Merging duplicate customers or leads without losing anything, and undoing merges.

- :func:`plan_merge` is pure: it says, field by field, what a merge would keep
  and why, before anything is written.
- :func:`merge` applies a plan to a store in one transaction, retiring the
  other records as tombstones and storing a :class:`MergeRecord`.
- :func:`unmerge` restores what a merge changed; :func:`merge_duplicates`
  applies a deduplication result in bulk.

See ``docs/merging.md`` for the default survivorship rules.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import attrs

from crmcore import _store_ops as ops
from crmcore._survivorship import (
    Candidate,
    MergePolicy,
    Outcome,
    Rule,
    Survivorship,
    apply_rule,
    conflicts,
    is_empty,
    item_key,
    rule_name,
)
from crmcore._validation import check_flag, items_of, utcnow
from crmcore.customers import Customer
from crmcore.dedup.results import DedupResult
from crmcore.errors import CrmError, ValidationError, VersionConflict
from crmcore.events import (
    CustomerUpdated,
    DomainEvent,
    EventDispatcher,
    LeadStatusChanged,
    RecordsMerged,
    RecordsUnmerged,
    publish,
)
from crmcore.ids import CustomerId, MergeId, is_customer_id, is_lead_id, new_merge_id
from crmcore.interactions import Interaction
from crmcore.leads import Lead, LeadStatus
from crmcore.merge_record import MergeRecord, Snapshot, StoredRecord

if TYPE_CHECKING:
    from crmcore.storage import MergingStore

__all__ = [
    "BulkMergeResult",
    "Candidate",
    "FieldDecision",
    "MergePlan",
    "MergePolicy",
    "MergeRecord",
    "MergeResult",
    "RelatedChange",
    "Rule",
    "Snapshot",
    "Survivorship",
    "UnmergeConflict",
    "UnmergeResult",
    "merge",
    "merge_duplicates",
    "plan_merge",
    "unmerge",
]

Record: TypeAlias = Customer | Lead
T = TypeVar("T")

CUSTOMER_RULES: Mapping[str, Rule] = {
    "name": Survivorship.PREFER_SURVIVOR,
    "emails": Survivorship.UNION,
    "phones": Survivorship.UNION,
    "addresses": Survivorship.UNION,
    "organization_id": Survivorship.PREFER_SURVIVOR,
    "stage": Survivorship.FURTHEST,
    "stage_reason": Survivorship.PREFER_SURVIVOR,
    "tags": Survivorship.UNION,
    "custom_fields": Survivorship.UNION,
    "owner": Survivorship.PREFER_SURVIVOR,
    "identifiers": Survivorship.UNION,
    "consents": Survivorship.MOST_RESTRICTIVE,
    "birth_date": Survivorship.PREFER_SURVIVOR,
    "notes": Survivorship.CONCATENATE,
}
"""The default rule of every customer field that merges."""

LEAD_RULES: Mapping[str, Rule] = {
    "name": Survivorship.PREFER_SURVIVOR,
    "company": Survivorship.PREFER_SURVIVOR,
    "emails": Survivorship.UNION,
    "phones": Survivorship.UNION,
    "source": Survivorship.PREFER_SURVIVOR,
    "status": Survivorship.FURTHEST,
    "status_reason": Survivorship.PREFER_SURVIVOR,
    "score": Survivorship.MAX,
    "estimated_value": Survivorship.PREFER_SURVIVOR,
    "owner": Survivorship.PREFER_SURVIVOR,
    "tags": Survivorship.UNION,
    "custom_fields": Survivorship.UNION,
    "converted_customer_id": Survivorship.PREFER_SURVIVOR,
}
"""The default rule of every lead field that merges."""

# A reason or a link only makes sense with the status it explains: by default
# it comes from the record whose stage or status won.
FOLLOWERS: Mapping[str, str] = {
    "stage_reason": "stage",
    "status_reason": "status",
    "converted_customer_id": "status",
}

# Bookkeeping fields: never merged, never compared when undoing.
BOOKKEEPING = frozenset({"id", "version", "created_at", "updated_at"})


class UnmergeConflict(CrmError):
    """An unmerge was refused: records changed since the merge in a way it would undo.

    ``record_ids`` and ``fields`` name the records and fields changed since
    (never the values), ``later_merges`` the merges of the survivor still in
    effect; pass ``force=True`` to :func:`unmerge` to restore anyway.
    """

    def __init__(
        self,
        message: str,
        *,
        record_ids: Sequence[str] = (),
        fields: Sequence[str] = (),
        later_merges: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.record_ids = tuple(record_ids)
        self.fields = tuple(fields)
        self.later_merges = tuple(later_merges)


# --------------------------------------------------------------------------- the plan


@attrs.frozen(repr=False)
class FieldDecision:
    """How one field was decided: the winning value, the rule and the values that lost.

    ``source_ids`` are the records the value came from; ``conflicts`` the
    candidates whose non-empty value is not (wholly) in the result; those
    values remain in the :class:`MergeRecord` snapshots.
    """

    field: str
    rule: str
    value: Any
    source_ids: tuple[str, ...]
    conflicts: tuple[Candidate, ...] = ()
    changed: bool = False

    @property
    def has_conflict(self) -> bool:
        """Whether any record's value was not kept."""
        return bool(self.conflicts)

    def __repr__(self) -> str:
        return (
            f"FieldDecision(field={self.field!r}, rule={self.rule!r}, "
            f"source_ids={self.source_ids!r}, conflicts={len(self.conflicts)}, "
            f"changed={self.changed})"
        )


@attrs.frozen(repr=False)
class RelatedChange:
    """A record that is not merged but moves to the survivor (an interaction, a lead, a member).

    ``field`` is what changes: an interaction's ``participants``, a lead's
    ``converted_customer_id`` or a person's ``organization_id``.
    """

    before: StoredRecord
    after: StoredRecord
    field: str

    @property
    def id(self) -> str:
        """The related record's id."""
        return self.before.id

    def __repr__(self) -> str:
        return f"RelatedChange(id={self.id!r}, field={self.field!r})"


@attrs.frozen(repr=False)
class MergePlan:
    """What a merge will do, computed without any I/O by :func:`plan_merge`.

    ``records`` are the participants, survivor first; ``result`` is the
    survivor as it will be written; ``retired`` the other participants as they
    will be written (tombstones with ``merged_into`` set, or for leads merged
    into a customer, converted leads); ``secondary`` the contact points that
    other records bring to the survivor; ``related`` the records that move.
    """

    survivor_id: str
    merged_ids: tuple[str, ...]
    records: tuple[Record, ...]
    decisions: tuple[FieldDecision, ...]
    result: Record
    retired: tuple[Record, ...]
    secondary: Mapping[str, tuple[Any, ...]]
    related: tuple[RelatedChange, ...]
    policy: MergePolicy

    @property
    def survivor(self) -> Record:
        """The survivor as it is now (before the merge)."""
        return self.records[0]

    @property
    def conflicts(self) -> tuple[FieldDecision, ...]:
        """The decisions where some record's value was not kept."""
        return tuple(d for d in self.decisions if d.has_conflict)

    @property
    def changed_fields(self) -> tuple[str, ...]:
        """The survivor's fields that the merge changes."""
        return tuple(d.field for d in self.decisions if d.changed)

    def decision(self, field: str) -> FieldDecision:
        """The decision for ``field`` (KeyError if the field does not merge)."""
        for d in self.decisions:
            if d.field == field:
                return d
        raise KeyError(field)

    @property
    def interaction_ids(self) -> tuple[str, ...]:
        """The interactions that move to the survivor."""
        return tuple(r.id for r in self.related if isinstance(r.before, Interaction))

    def __repr__(self) -> str:
        return (
            f"MergePlan(survivor_id={self.survivor_id!r}, merged_ids={self.merged_ids!r}, "
            f"conflicts={[d.field for d in self.conflicts]!r}, related={len(self.related)})"
        )


def completeness(record: Record) -> int:
    """How complete a record is: filled fields plus contact points, tags, identifiers...

    Used to pick the default survivor.
    """
    fields = CUSTOMER_RULES if isinstance(record, Customer) else LEAD_RULES
    score = 0
    for field in fields:
        value = getattr(record, field)
        if is_empty(value):
            continue
        score += 1
        if isinstance(value, tuple | frozenset | Mapping):
            score += len(value) - 1
    return score


def default_survivor(records: Sequence[Record]) -> Record:
    """The survivor when none is named: a customer over a lead, then the most complete
    record, then the oldest (earliest ``created_at``, then the smallest id)."""
    return min(
        records,
        key=lambda r: (isinstance(r, Lead), -completeness(r), r.created_at, r.id),
    )


def plan_merge(
    records: Iterable[Record],
    *,
    survivor: str | None = None,
    policy: MergePolicy | Mapping[str, Rule] | None = None,
    interactions: Iterable[Interaction] = (),
    leads: Iterable[Lead] = (),
    members: Iterable[Customer] = (),
) -> MergePlan:
    """Plan merging ``records`` into one survivor, without touching any store.

    Args:
        records: two or more customers, two or more leads, or customers and
            leads together (the survivor is then a customer and the leads are
            marked converted into it).
        survivor: the id of the record to keep; by default
            :func:`default_survivor` picks it.
        policy: survivorship rules per field over the defaults
            (``CUSTOMER_RULES`` / ``LEAD_RULES``).
        interactions: interactions that may involve the records; those that
            do are re-pointed to the survivor in ``plan.related``.
        leads: leads that may have been converted into one of the records.
        members: people who may belong to one of the records (organisations).

    Raises:
        ValidationError: fewer than two distinct records, a record already
            merged away, people mixed with organisations, an unknown
            survivor, or a rule that does not apply to its field.
    """
    group = items_of(records, "records")
    interactions = _all_of(interactions, Interaction, "interactions")
    leads = _all_of(leads, Lead, "leads")
    members = _all_of(members, Customer, "members")
    rules = MergePolicy.of(policy)
    _check_group(group, survivor, rules)
    chosen = (
        next(r for r in group if r.id == survivor)
        if survivor is not None
        else default_survivor(group)
    )
    ranked = sorted(
        (r for r in group if r.id != chosen.id),
        key=lambda r: (isinstance(r, Lead), -completeness(r), r.created_at, r.id),
    )
    ordered: list[Record] = [chosen, *ranked]
    participant_ids: set[str] = {r.id for r in ordered}
    defaults = CUSTOMER_RULES if isinstance(chosen, Customer) else LEAD_RULES

    decisions: list[FieldDecision] = []
    values: dict[str, Any] = {}
    outcomes: dict[str, Outcome] = {}
    for field in defaults:
        candidates = _candidates(field, ordered, participant_ids)
        if field in rules.rules:
            rule = rules.rules[field]
            outcome = apply_rule(field, rule, candidates)
            name = rule_name(rule)
        elif field in FOLLOWERS and FOLLOWERS[field] in outcomes:
            leader = outcomes[FOLLOWERS[field]]
            source = leader.source_ids[0] if leader.source_ids else chosen.id
            value = next(c.value for c in candidates if c.record_id == source)
            outcome = Outcome(value, (source,))
            name = f"follows:{FOLLOWERS[field]}"
        else:
            rule = defaults[field]
            outcome = apply_rule(field, rule, candidates)
            name = rule_name(rule)
        outcomes[field] = outcome
        values[field] = outcome.value
        decisions.append(
            FieldDecision(
                field=field,
                rule=name,
                value=outcome.value,
                source_ids=outcome.source_ids,
                conflicts=conflicts(field, outcome.value, candidates),
                changed=outcome.value != getattr(chosen, field),
            )
        )
    result = attrs.evolve(chosen, **values)
    merged_ids = tuple(r.id for r in ranked)
    retired = tuple(_retire(r, chosen) for r in ranked)
    secondary = {
        field: tuple(
            item
            for item in getattr(result, field)
            if item_key(field, item) not in {item_key(field, own) for own in getattr(chosen, field)}
        )
        for field in ("emails", "phones")
    }
    related = _related(chosen.id, set(merged_ids), interactions, leads, members)
    return MergePlan(
        survivor_id=chosen.id,
        merged_ids=merged_ids,
        records=tuple(ordered),
        decisions=tuple(decisions),
        result=result,
        retired=retired,
        secondary=secondary,
        related=related,
        policy=rules,
    )


def _all_of(value: Iterable[T], cls: type[T], field: str) -> list[T]:
    items = items_of(value, field)
    if not all(isinstance(item, cls) for item in items):
        raise ValidationError(field, f"must hold {cls.__name__} values")
    return items


def _check_group(group: list[Record], survivor: str | None, policy: MergePolicy) -> None:
    if not all(isinstance(r, Customer | Lead) for r in group):
        raise ValidationError("records", "must be customers or leads")
    ids = [r.id for r in group]
    if len(set(ids)) < 2:
        raise ValidationError("records", "a merge needs at least two different records")
    if len(set(ids)) != len(ids):
        raise ValidationError("records", "lists the same record twice")
    if any(r.merged_into is not None for r in group):
        raise ValidationError(
            "records", "a record already merged away cannot be merged again; merge its survivor"
        )
    customers = [r for r in group if isinstance(r, Customer)]
    if len({c.kind for c in customers}) > 1:
        raise ValidationError("records", "people and organisations cannot be merged together")
    if survivor is not None:
        if survivor not in ids:
            raise ValidationError("survivor", "must be one of the records merged")
        if customers and is_lead_id(survivor):
            raise ValidationError("survivor", "must be a customer when customers take part")
    known = set(CUSTOMER_RULES) | set(LEAD_RULES)
    for field in policy.rules:
        if field not in known:
            raise ValidationError(f"policy.{field}", "is not a field that merges")


def _candidates(field: str, ordered: list[Record], participants: set[str]) -> list[Candidate]:
    result = []
    for i, record in enumerate(ordered):
        if not hasattr(record, field):
            continue  # a lead has no stage, a customer no score
        value = getattr(record, field)
        if field == "organization_id" and value in participants:
            value = None  # pointing into the group would make the survivor its own member
        result.append(Candidate(record.id, value, i == 0, record.created_at, record.updated_at))
    return result


def _retire(record: Record, survivor: Record) -> Record:
    if isinstance(record, Customer):
        assert isinstance(survivor, Customer)
        return attrs.evolve(record, merged_into=survivor.id)
    if isinstance(survivor, Lead):
        return attrs.evolve(record, merged_into=survivor.id)
    # A lead merged into a customer is what a conversion makes: it stays a
    # lead (its own id keeps resolving to itself) marked converted.
    return attrs.evolve(
        record,
        status=LeadStatus.CONVERTED,
        converted_customer_id=survivor.id,
    )


def _related(
    survivor_id: str,
    merged: set[str],
    interactions: Iterable[Interaction],
    leads: Iterable[Lead],
    members: Iterable[Customer],
) -> tuple[RelatedChange, ...]:
    changes: dict[str, RelatedChange] = {}
    for interaction in interactions:
        if interaction.id in changes or not merged.intersection(interaction.record_ids):
            continue
        moved = interaction
        for record_id in interaction.record_ids:
            if record_id in merged:
                moved = moved.repointed(record_id, survivor_id)  # type: ignore[arg-type]
        changes[interaction.id] = RelatedChange(interaction, moved, "participants")
    if is_customer_id(survivor_id):
        for lead in leads:
            if lead.id in merged or lead.id in changes:
                continue
            if lead.converted_customer_id in merged:
                moved_lead = attrs.evolve(lead, converted_customer_id=CustomerId(survivor_id))
                changes[lead.id] = RelatedChange(lead, moved_lead, "converted_customer_id")
        for member in members:
            if member.id in merged or member.id == survivor_id or member.id in changes:
                continue
            if member.organization_id in merged:
                moved_member = attrs.evolve(member, organization_id=CustomerId(survivor_id))
                changes[member.id] = RelatedChange(member, moved_member, "organization_id")
    return tuple(changes.values())


# --------------------------------------------------------------------------- applying


@attrs.frozen(repr=False)
class MergeResult:
    """What :func:`merge` did: the stored survivor, the merge's id, the plan and the record."""

    survivor: Record
    merge_id: MergeId
    plan: MergePlan
    record: MergeRecord

    def __repr__(self) -> str:
        return f"MergeResult(merge_id={self.merge_id!r}, survivor_id={self.survivor.id!r})"


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
    the survivor; a :class:`MergeRecord` with full before/after copies is
    stored. Events (``RecordsMerged``, ``CustomerUpdated``/``LeadStatusChanged``)
    are published before the commit: a subscriber that raises rolls it back.

    Raises:
        ValidationError: see :func:`plan_merge`.
        NotFound: an id is not stored.
        VersionConflict: a stored copy passed in is stale, or a concurrent
            writer won.
    """
    wanted, versions, plan_survivor, plan_policy = _expected_versions(ids)
    survivor = survivor if survivor is not None else plan_survivor
    policy = policy if policy is not None else plan_policy
    if len(set(wanted)) < 2:
        raise ValidationError("ids", "a merge needs at least two different records")
    with ops.transaction(store):
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
        plan = plan_merge(
            records,
            survivor=survivor,
            policy=policy,
            interactions=ops.interactions_for(store, merged_ids),
            leads=ops.leads_converted_into(store, customer_ids),
            members=ops.members_of(store, customer_ids),
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
    return found


# --------------------------------------------------------------------------- undoing


@attrs.frozen(repr=False)
class UnmergeResult:
    """What :func:`unmerge` wrote back: every restored record as now stored."""

    merge_id: MergeId
    restored: tuple[StoredRecord, ...]
    forced: bool = False
    conflicts: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:
        return (
            f"UnmergeResult(merge_id={self.merge_id!r}, restored={len(self.restored)}, "
            f"forced={self.forced})"
        )


def _fields_of(record: StoredRecord) -> list[str]:
    return [f.name for f in attrs.fields(type(record)) if f.name not in BOOKKEEPING]


_ABSENT: Any = object()


def _restore_key(field: str, item: Any) -> Hashable:
    if field == "participants":
        return item.record_id  # type: ignore[no-any-return]
    return item_key(field, item)


def _keyed(field: str, value: Any) -> dict[Hashable, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, frozenset):
        return dict.fromkeys(sorted(value, key=repr), True)
    return {_restore_key(field, item): item for item in value}


def _rebuild(original: Any, items: dict[Hashable, Any]) -> Any:
    if isinstance(original, Mapping):
        rebuild: Any = type(original)
        return rebuild(items)
    if isinstance(original, frozenset):
        return frozenset(items)
    return tuple(items.values())


def _three_way(field: str, b: Any, a: Any, c: Any) -> tuple[Any, bool]:
    """Undo one field: ``b`` before the merge, ``a`` as the merge wrote it, ``c`` now.

    Returns the restored value and whether a later change conflicted (the
    value is then ``b``'s, or per key for collections).
    """
    if a == c:
        return b, False  # untouched since: undo the merge's change
    if a == b:
        return c, False  # the merge did not change it: keep later edits
    if c == b:
        return b, False
    if not isinstance(b, tuple | frozenset | Mapping):
        return b, True
    # Collections merge per item (emails by match key, interactions'
    # participants by record id, maps by key): the merge's additions go,
    # later additions and removals stay, and only an item changed both by
    # the merge and since conflicts.
    before, after, now = _keyed(field, b), _keyed(field, a), _keyed(field, c)
    result: dict[Hashable, Any] = {}
    conflict = False
    for key in [*before, *(k for k in now if k not in before), *after]:
        if key in result:
            continue
        kb, ka, kc = (m.get(key, _ABSENT) for m in (before, after, now))
        value, clash = _three_way_item(kb, ka, kc)
        conflict = conflict or clash
        if value is not _ABSENT:
            result[key] = value
    return _rebuild(b, result), conflict


def _three_way_item(b: Any, a: Any, c: Any) -> tuple[Any, bool]:
    if a == c:
        return b, False
    if a == b:
        return c, False
    if c == b:
        return b, False
    return b, True


def restore_plan(
    before: StoredRecord, after: StoredRecord, current: StoredRecord
) -> tuple[StoredRecord, list[str]]:
    """Three-way restore of one record: returns the restored copy and the conflicting fields.

    Per field, with ``before`` (just before the merge), ``after`` (as the
    merge wrote it) and ``current`` (now): a field unchanged since the merge
    goes back to ``before``; a field the merge did not change keeps
    ``current`` (later edits survive); a field both the merge and a later
    edit changed conflicts, except that collections (contact points, tags,
    maps, an interaction's participants) are restored item by item, so only
    an item changed by both conflicts. A conflicting field gets ``before``'s
    value (per item for collections) when the caller forces the unmerge.
    """
    values: dict[str, Any] = {}
    conflicting: list[str] = []
    for field in _fields_of(before):
        value, clash = _three_way(
            field, getattr(before, field), getattr(after, field), getattr(current, field)
        )
        values[field] = value
        if clash:
            conflicting.append(field)
    return attrs.evolve(current, **values), conflicting


def unmerge(
    store: MergingStore,
    merge_id: str,
    *,
    force: bool = False,
    events: EventDispatcher | None = None,
) -> UnmergeResult:
    """Undo a merge: every participant and re-pointed record goes back to its pre-merge state.

    The rule, per record the merge wrote (see :func:`restore_plan`): what the
    merge changed is restored; what it did not change keeps any later edit;
    collections are restored item by item (an email added to the survivor
    after the merge stays on it). The unmerge is refused with
    :class:`UnmergeConflict` when

    - a value the merge changed was changed again since (someone replaced the
      owner the merge filled in, say, or relabelled a merged email);
    - a record the merge wrote was deleted since;
    - the survivor took part in a later merge that is still in effect (undo
      that one first).

    ``force=True`` restores anyway: conflicting values get their pre-merge
    state (later edits to them are lost) and deleted records are added back.
    An already undone merge is always refused. Interactions logged against
    the survivor after the merge stay with the survivor.

    Raises:
        NotFound: no merge has this id.
        UnmergeConflict: see above.
    """
    check_flag(force, "force")
    with ops.transaction(store):
        record: MergeRecord = store.merges.get(merge_id)
        if not record.is_active:
            raise UnmergeConflict(f"merge {record.id} was already undone")
        problems: list[tuple[str, str]] = []
        later = [
            m.id
            for m in store.merges.list_for(record.survivor_id)
            if m.is_active and (m.merged_at, m.id) > (record.merged_at, record.id)
        ]
        writes: list[tuple[StoredRecord, StoredRecord | None]] = []
        for before in record.before:
            after = record.after.get(before.id)
            assert after is not None
            current = ops.find_record(store, before)
            if current is None:
                problems.append((before.id, "<deleted>"))
                writes.append((before, None))
                continue
            restored, conflicting = restore_plan(before, after, current)
            problems.extend((before.id, field) for field in conflicting)
            writes.append((restored, current))
        if (problems or later) and not force:
            raise UnmergeConflict(
                f"merge {record.id} cannot be undone without force: "
                f"{len(problems)} conflicting change(s) and {len(later)} later merge(s) since",
                record_ids=sorted({p[0] for p in problems}),
                fields=sorted({p[1] for p in problems}),
                later_merges=later,
            )
        restored_records: list[StoredRecord] = []
        for restored, current in writes:
            if current is None:
                restored_records.append(ops.add_record(store, attrs.evolve(restored, version=0)))
            else:
                copy = attrs.evolve(restored, version=current.version)
                restored_records.append(ops.update_record(store, copy))
        store.merges.update(attrs.evolve(record, unmerged_at=utcnow()))
        publish(
            events,
            [
                RecordsUnmerged(
                    merge_id=record.id,
                    survivor_id=record.survivor_id,
                    restored_ids=tuple(r.id for r in restored_records),
                )
            ],
        )
    return UnmergeResult(
        merge_id=record.id,
        restored=tuple(restored_records),
        forced=bool(problems or later),
        conflicts=tuple(problems),
    )


# --------------------------------------------------------------------------- in bulk


@attrs.frozen(repr=False)
class BulkMergeResult:
    """What :func:`merge_duplicates` did, cluster by cluster.

    ``skipped`` and ``failed`` pair a cluster id with a reason (an error's
    class name for failures); a failed cluster changed nothing.
    """

    merged: tuple[MergeResult, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    failed: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:
        return (
            f"BulkMergeResult(merged={len(self.merged)}, skipped={len(self.skipped)}, "
            f"failed={len(self.failed)})"
        )


def merge_duplicates(
    store: MergingStore,
    dedup_result: DedupResult,
    *,
    min_confidence: float = 0.9,
    policy: MergePolicy | Mapping[str, Rule] | None = None,
    events: EventDispatcher | None = None,
) -> BulkMergeResult:
    """Merge every cluster of a deduplication result whose confidence is high enough.

    Each cluster is merged in its own transaction (with :func:`merge`, the
    default survivor and ``policy``); a cluster whose members changed or were
    merged meanwhile is resolved to the current survivors first, and a cluster
    that fails (a concurrent writer, say) is reported in ``failed`` and leaves
    the others merged. Clusters below ``min_confidence`` are skipped.
    """
    if not isinstance(dedup_result, DedupResult):
        raise ValidationError("dedup_result", "must be a DedupResult (from find_duplicates)")
    if isinstance(min_confidence, bool) or not isinstance(min_confidence, int | float):
        raise ValidationError("min_confidence", "must be a number between 0 and 1")
    if not 0.0 <= min_confidence <= 1.0:
        raise ValidationError("min_confidence", "must be a number between 0 and 1")
    merged: list[MergeResult] = []
    skipped: list[tuple[str, str]] = []
    failed: list[tuple[str, str]] = []
    for cluster in dedup_result.clusters:
        if cluster.confidence < min_confidence:
            skipped.append((cluster.id, "below min_confidence"))
            continue
        try:
            live = _live_ids(store, cluster.member_ids)
            if len(live) < 2:
                skipped.append((cluster.id, "already merged"))
                continue
            merged.append(merge(store, live, policy=policy, events=events))
        except CrmError as exc:
            failed.append((cluster.id, type(exc).__name__))
    return BulkMergeResult(tuple(merged), tuple(skipped), tuple(failed))


def _live_ids(store: Any, member_ids: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for member_id in member_ids:
        record = ops.resolve(store, member_id)
        if isinstance(record, Lead) and record.status is LeadStatus.CONVERTED:
            if record.converted_customer_id is None:
                continue
            record = ops.resolve(store, record.converted_customer_id)
        seen.setdefault(record.id, None)
    return list(seen)
