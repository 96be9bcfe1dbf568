"""The audit record a merge leaves behind: everything needed to undo it.

A :class:`MergeRecord` is a domain entity like a customer: stores keep it in
their ``merges`` repository and it imports nothing from storage.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from datetime import datetime

import attrs

from crmcore._repr import count
from crmcore._validation import Problems
from crmcore.cases import Case
from crmcore.customers import Customer
from crmcore.ids import MergeId, is_valid_id
from crmcore.interactions import Interaction
from crmcore.leads import Lead
from crmcore.opportunities import Opportunity
from crmcore.tasks import Task

__all__ = ["MergeRecord", "Snapshot", "StoredRecord", "WorkItem"]

WorkItem = Opportunity | Task | Case
"""A piece of work about a customer or lead that a merge re-points."""

StoredRecord = Customer | Lead | Interaction | Opportunity | Task | Case
"""Anything a merge writes: a participant or a re-pointed related record."""


@attrs.frozen
class Snapshot:
    """Full copies of a set of stored records at one moment.

    ``opportunities``, ``tasks`` and ``cases`` are the work items a merge
    re-pointed; they default to empty, so that merge records written before
    work items existed still load.
    """

    customers: tuple[Customer, ...] = attrs.field(default=(), repr=count)
    leads: tuple[Lead, ...] = attrs.field(default=(), repr=count)
    interactions: tuple[Interaction, ...] = attrs.field(default=(), repr=count)
    opportunities: tuple[Opportunity, ...] = attrs.field(default=(), repr=count)
    tasks: tuple[Task, ...] = attrs.field(default=(), repr=count)
    cases: tuple[Case, ...] = attrs.field(default=(), repr=count)

    @classmethod
    def of(cls, records: tuple[StoredRecord, ...] | list[StoredRecord]) -> Snapshot:
        """Sort records into a snapshot by type, keeping their order."""
        return cls(
            customers=tuple(r for r in records if isinstance(r, Customer)),
            leads=tuple(r for r in records if isinstance(r, Lead)),
            interactions=tuple(r for r in records if isinstance(r, Interaction)),
            opportunities=tuple(r for r in records if isinstance(r, Opportunity)),
            tasks=tuple(r for r in records if isinstance(r, Task)),
            cases=tuple(r for r in records if isinstance(r, Case)),
        )

    def __iter__(self) -> Iterator[StoredRecord]:
        yield from self.customers
        yield from self.leads
        yield from self.interactions
        yield from self.opportunities
        yield from self.tasks
        yield from self.cases

    def __len__(self) -> int:
        return (
            len(self.customers)
            + len(self.leads)
            + len(self.interactions)
            + len(self.opportunities)
            + len(self.tasks)
            + len(self.cases)
        )

    @property
    def ids(self) -> tuple[str, ...]:
        """The ids of every record in the snapshot."""
        return tuple(r.id for r in self)

    def get(self, record_id: str) -> StoredRecord | None:
        """The copy of ``record_id``, or ``None`` when the snapshot does not hold it."""
        return next((r for r in self if r.id == record_id), None)


@attrs.frozen(repr=False)
class MergeRecord:
    """What a merge did, with full copies of every record it wrote, before and after.

    ``before`` holds every participant (the survivor included) and every
    re-pointed related record as stored just before the merge; ``after`` holds
    the same records as the merge wrote them. :func:`crmcore.unmerge` restores
    ``before``; ``unmerged_at`` is set once it has.
    """

    id: MergeId
    survivor_id: str
    merged_ids: tuple[str, ...]
    before: Snapshot
    after: Snapshot
    merged_at: datetime
    unmerged_at: datetime | None = None
    version: int = 0

    def __attrs_post_init__(self) -> None:
        problems = Problems()
        if not is_valid_id(self.id, "mrg_"):
            problems.add("id", "must be a merge id")
        if not isinstance(self.survivor_id, str):
            problems.add("survivor_id", "must be a record id")
        # The type before the truth: an object's bool() can warn or raise (NotImplemented).
        if type(self.merged_ids) is not tuple or not all(
            isinstance(i, str) for i in self.merged_ids
        ):
            problems.add("merged_ids", "must be a tuple of record ids")
        elif not self.merged_ids or self.survivor_id in self.merged_ids:
            problems.add("merged_ids", "must name records other than the survivor")
        for field in ("before", "after"):
            if not isinstance(getattr(self, field), Snapshot):
                problems.add(field, "must be a Snapshot")
        problems.utc(self, "merged_at")
        if self.unmerged_at is not None:
            problems.utc(self, "unmerged_at")
        problems.check_version(self.version)
        problems.raise_if_any()

    @property
    def participant_ids(self) -> tuple[str, ...]:
        """The survivor's id followed by the merged-away ids."""
        return (self.survivor_id, *self.merged_ids)

    @property
    def repointed_ids(self) -> tuple[str, ...]:
        """The related records the merge re-pointed.

        Interactions, converted leads, organisation members, and the
        opportunities, tasks and cases of the merged records.
        """
        participants = set(self.participant_ids)
        return tuple(i for i in self.before.ids if i not in participants)

    @functools.cached_property
    def moved_interactions(self) -> Mapping[str, tuple[str, Interaction]]:
        """The interactions the merge moved: id -> (the merged record it was on, its copy before).

        Computed once per copy of the record (every page of a timeline needs it)
        and kept on that copy: it lives no longer than the record does.
        """
        merged = set(self.merged_ids)
        moves: dict[str, tuple[str, Interaction]] = {}
        for before in self.before.interactions:
            original = next((i for i in before.record_ids if i in merged), None)
            if original is not None:
                moves[before.id] = (original, before)
        return moves

    @functools.cached_property
    def moved_work_items(self) -> Mapping[str, tuple[str, WorkItem]]:
        """The work items the merge moved: id -> (the merged record it was about, its copy before).

        An opportunity or a case moved with its ``customer_id``, a task with
        its ``about_id``; an opportunity that only named a merged record among
        its contacts did not move. Kept on this copy like
        :attr:`moved_interactions`.
        """
        merged = set(self.merged_ids)
        moves: dict[str, tuple[str, WorkItem]] = {}
        for deal in self.before.opportunities:
            if deal.customer_id in merged:
                moves[deal.id] = (deal.customer_id, deal)
        for case in self.before.cases:
            if case.customer_id in merged:
                moves[case.id] = (case.customer_id, case)
        for task in self.before.tasks:
            if task.about_id is not None and task.about_id in merged:
                moves[task.id] = (task.about_id, task)
        return moves

    @property
    def is_active(self) -> bool:
        """Whether the merge is still in effect (not undone)."""
        return self.unmerged_at is None

    def __repr__(self) -> str:
        return (
            f"MergeRecord(id={self.id!r}, survivor_id={self.survivor_id!r}, "
            f"merged_ids={self.merged_ids!r}, repointed={len(self.repointed_ids)}, "
            f"active={self.is_active}, version={self.version})"
        )
