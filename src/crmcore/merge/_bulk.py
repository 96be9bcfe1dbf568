"""Merging a deduplication result in bulk, one cluster per transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import attrs

from crmcore import _store_ops as ops
from crmcore._repr import count
from crmcore.errors import CrmError, ValidationError
from crmcore.events import EventDispatcher
from crmcore.leads import Lead, LeadStatus
from crmcore.merge._apply import MergeResult, merge
from crmcore.merge._survivorship import MergePolicy, Rule

if TYPE_CHECKING:
    from crmcore.dedup.results import DedupResult
    from crmcore.storage import MergingStore

__all__ = ["BulkMergeResult", "merge_duplicates"]


@attrs.frozen
class BulkMergeResult:
    """What :func:`merge_duplicates` did, cluster by cluster.

    ``skipped`` and ``failed`` pair a cluster id with a reason (an error's
    class name for failures); a failed cluster changed nothing.
    """

    merged: tuple[MergeResult, ...] = attrs.field(repr=count)
    skipped: tuple[tuple[str, str], ...] = attrs.field(default=(), repr=count)
    failed: tuple[tuple[str, str], ...] = attrs.field(default=(), repr=count)


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

    Raises:
        ValidationError: naming ``store`` (it keeps no merge records),
            ``dedup_result`` or ``min_confidence``.
    """
    # Imported here: importing crmcore must not load the dedup engine, and a
    # caller holding a DedupResult has loaded it already.
    from crmcore.dedup.results import DedupResult

    ops.check_merging_store(store)
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


def _live_ids(store: MergingStore, member_ids: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for member_id in member_ids:
        record = ops.resolve(store, member_id)
        if isinstance(record, Lead) and record.status is LeadStatus.CONVERTED:
            if record.converted_customer_id is None:
                continue
            record = ops.resolve(store, record.converted_customer_id)
        seen.setdefault(record.id, None)
    return list(seen)
