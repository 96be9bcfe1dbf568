"""Planning a merge: which record survives and, field by field, what it keeps and why.

:func:`plan_merge` is pure: it reads nothing and writes nothing, so a plan can
be shown to a person before :func:`crmcore.merge.merge` applies it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeAlias, TypeVar

import attrs

from crmcore._repr import count, id_of
from crmcore._validation import ensure_utc, items_of
from crmcore.cases import Case
from crmcore.customers import Customer
from crmcore.errors import RecordRestricted, ValidationError
from crmcore.ids import CustomerId, is_customer_id, is_lead_id
from crmcore.interactions import Interaction
from crmcore.leads import Lead, LeadStatus
from crmcore.merge._survivorship import (
    CUSTOMER_RULES,
    FOLLOWERS,
    LEAD_RULES,
    Candidate,
    MergePolicy,
    Outcome,
    Rule,
    apply_rule,
    conflicts,
    is_empty,
    item_key,
    rule_name,
)
from crmcore.merge_record import StoredRecord
from crmcore.opportunities import ContactRole, Opportunity
from crmcore.tasks import Task

__all__ = [
    "FieldDecision",
    "MergePlan",
    "Record",
    "RelatedChange",
    "completeness",
    "default_survivor",
    "plan_merge",
]

Record: TypeAlias = Customer | Lead
T = TypeVar("T")


@attrs.frozen
class FieldDecision:
    """How one field was decided: the winning value, the rule and the values that lost.

    ``source_ids`` are the records the value came from; ``conflicts`` the
    candidates whose non-empty value is not (wholly) in the result; those
    values remain in the :class:`MergeRecord` snapshots.
    """

    field: str
    rule: str
    value: Any = attrs.field(repr=False)
    source_ids: tuple[str, ...]
    conflicts: tuple[Candidate, ...] = attrs.field(default=(), repr=count)
    changed: bool = False

    @property
    def has_conflict(self) -> bool:
        """Whether any record's value was not kept."""
        return bool(self.conflicts)


@attrs.frozen
class RelatedChange:
    """A record that is not merged but moves to the survivor.

    ``field`` is what changes: an interaction's ``participants``, a lead's
    ``converted_customer_id``, a person's ``organization_id``, an
    opportunity's ``customer_id`` (its ``contacts`` move with it) or only its
    ``contacts``, a task's ``about_id``, a case's ``customer_id``.
    """

    before: StoredRecord = attrs.field(repr=id_of)
    after: StoredRecord = attrs.field(repr=False)
    field: str

    @property
    def id(self) -> str:
        """The related record's id."""
        return self.before.id


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
    opportunities: Iterable[Opportunity] = (),
    tasks: Iterable[Task] = (),
    cases: Iterable[Case] = (),
    at: datetime | None = None,
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
        opportunities: deals that may be with (or name as a contact) one of
            the records; those that do are re-pointed to the survivor.
        tasks: tasks that may be about one of the records.
        cases: support cases that may be of one of the records.
        at: when the merge takes effect: the withdrawals that keep a merge
            from upgrading consent (:func:`crmcore.consent.merge_consent_events`)
            are effective then. By default the latest ``updated_at`` of the
            records, so that a plan depends on its arguments alone;
            :func:`crmcore.merge.merge` passes the moment it merges.

    Raises:
        ValidationError: fewer than two distinct records, a record already
            merged away, people mixed with organisations, an unknown
            survivor, or a rule that does not apply to its field.
        RecordRestricted: one of the records is restricted (GDPR Art. 18).
    """
    group = items_of(records, "records")
    interactions = _all_of(interactions, Interaction, "interactions")
    leads = _all_of(leads, Lead, "leads")
    members = _all_of(members, Customer, "members")
    work = _Work(
        _all_of(opportunities, Opportunity, "opportunities"),
        _all_of(tasks, Task, "tasks"),
        _all_of(cases, Case, "cases"),
    )
    rules = MergePolicy.of(policy)
    moment = None if at is None else ensure_utc(at, "at")
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
            outcome = apply_rule(field, rule, candidates, at=moment)
            name = rule_name(rule)
        elif field in FOLLOWERS and FOLLOWERS[field] in outcomes:
            leader = outcomes[FOLLOWERS[field]]
            source = leader.source_ids[0] if leader.source_ids else chosen.id
            value = next(c.value for c in candidates if c.record_id == source)
            outcome = Outcome(value, (source,))
            name = f"follows:{FOLLOWERS[field]}"
        else:
            rule = defaults[field]
            outcome = apply_rule(field, rule, candidates, at=moment)
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
    related = _related(chosen.id, set(merged_ids), interactions, leads, members, work)
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
    restricted = next((r for r in group if r.restriction is not None), None)
    if restricted is not None:
        # Art. 18: a restricted record is stored, not processed; merging it
        # would change it (and the survivor) while the restriction holds.
        raise RecordRestricted(
            "a restricted record cannot be merged; lift the restriction first",
            record_id=restricted.id,
        )
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


@attrs.frozen
class _Work:
    opportunities: list[Opportunity]
    tasks: list[Task]
    cases: list[Case]


def _related(
    survivor_id: str,
    merged: set[str],
    interactions: Iterable[Interaction],
    leads: Iterable[Lead],
    members: Iterable[Customer],
    work: _Work,
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
        for opportunity in work.opportunities:
            if opportunity.id not in changes:
                change = _moved_opportunity(opportunity, CustomerId(survivor_id), merged)
                if change is not None:
                    changes[opportunity.id] = change
        for case in work.cases:
            if case.id not in changes and case.customer_id in merged:
                moved_case = attrs.evolve(case, customer_id=CustomerId(survivor_id))
                changes[case.id] = RelatedChange(case, moved_case, "customer_id")
    # A task can be about a lead as well as a customer: it follows whichever
    # record it is about, like the record's interactions do.
    for task in work.tasks:
        if task.id not in changes and task.about_id is not None and task.about_id in merged:
            changes[task.id] = RelatedChange(
                task, attrs.evolve(task, about_id=survivor_id), "about_id"
            )
    return tuple(changes.values())


def _moved_opportunity(
    opportunity: Opportunity, survivor_id: CustomerId, merged: set[str]
) -> RelatedChange | None:
    moves_customer = opportunity.customer_id in merged
    if not moves_customer and not any(c.customer_id in merged for c in opportunity.contacts):
        return None
    # A contact who becomes the survivor in a role the survivor already has
    # (or that two merged records had) is one contact role: listed once.
    contacts: dict[ContactRole, None] = {}
    for contact in opportunity.contacts:
        if contact.customer_id in merged:
            contact = ContactRole(survivor_id, contact.role)
        contacts.setdefault(contact, None)
    moved = attrs.evolve(
        opportunity,
        customer_id=survivor_id if moves_customer else opportunity.customer_id,
        contacts=tuple(contacts),
    )
    return RelatedChange(opportunity, moved, "customer_id" if moves_customer else "contacts")
