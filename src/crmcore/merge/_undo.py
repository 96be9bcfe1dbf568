"""Undoing a merge: a three-way restore of every record it wrote."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from crmcore import _store_ops as ops
from crmcore._repr import count
from crmcore._validation import check_flag, utcnow
from crmcore.audit import AuditAction, audited
from crmcore.errors import CrmError
from crmcore.events import EventDispatcher, RecordsUnmerged, publish
from crmcore.ids import MergeId
from crmcore.merge._survivorship import BOOKKEEPING, item_key
from crmcore.merge_record import MergeRecord, StoredRecord

if TYPE_CHECKING:
    from crmcore.storage import MergingStore

__all__ = ["UnmergeConflict", "UnmergeResult", "restore_plan", "unmerge"]


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


@attrs.frozen
class UnmergeResult:
    """What :func:`unmerge` wrote back: every restored record as now stored."""

    merge_id: MergeId
    restored: tuple[StoredRecord, ...] = attrs.field(repr=count)
    forced: bool = False
    conflicts: tuple[tuple[str, str], ...] = attrs.field(default=(), repr=count)


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
        ValidationError: ``force`` is not a bool, or the store keeps no merge
            records (``store``).
    """
    ops.check_merging_store(store)
    check_flag(force, "force")
    with audited(store, AuditAction.UNMERGE, operation="unmerge"):
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
