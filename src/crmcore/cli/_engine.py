"""The one place the command line calls the matching engine."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from crmcore.dedup.records import MatchRecord
from crmcore.dedup.results import DedupResult

__all__ = ["find_clusters"]


def find_clusters(
    records: Sequence[MatchRecord],
    *,
    threshold: float | None,
    progress: Callable[..., Any] | None,
) -> DedupResult:
    """Cluster ``records`` with the default rules, the match threshold optionally replaced."""
    from crmcore import dedup

    rules = None
    if threshold is not None:
        rules = dedup.default_rules().with_thresholds(match=threshold)
    return dedup.find_duplicates(records, rules, progress=progress)
